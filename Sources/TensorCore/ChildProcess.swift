import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// What one run of a child program returned and printed.
public struct ChildProcessResult: Sendable {
  /// The exit status, or 128 + the signal that ended it (as a shell reports it).
  public var status: Int32
  public var stdout: String
  public var stderr: String
  /// True when the child outlived its time limit and was killed (with its process group).
  public var timedOut: Bool
}

/// Runs a program to its end with a time limit, without Foundation's `Process`.
///
/// `Process.waitUntilExit` waits on a run loop for a SIGCHLD notification that can be lost when
/// the child starts daemons (a test that started munge and Slurm waited on an exited script until
/// CI's limit), and a child that fills one pipe while the parent drains the other deadlocks both.
/// Here the child's output goes to unlinked temporary files, the parent polls `waitpid`, and the
/// child runs in its own process group so a time limit can end it and everything it started that
/// stayed in the group.
public enum ChildProcess {
  public struct Failure: Error, CustomStringConvertible {
    public var description: String
  }

  /// Runs `executable` (a path, or a name looked up on PATH) with `arguments`.
  /// - Parameters:
  ///   - environment: added over this process's environment.
  ///   - directory: the child's working directory (this process's when nil).
  ///   - input: the child's standard input (/dev/null when nil).
  ///   - passStandardError: the child writes its standard error to this process's (e.g. progress
  ///     lines of a long script) instead of having it captured.
  ///   - timeLimit: seconds before the child's process group is killed.
  public static func run(
    _ executable: String, _ arguments: [String], environment: [String: String] = [:], directory: String? = nil,
    input: Data? = nil, passStandardError: Bool = false, timeLimit: Double = 600
  ) throws -> ChildProcessResult {
    guard var path = resolve(executable) else { throw Failure(description: "cannot run '\(executable)': not found") }
    var arguments = arguments
    // posix_spawn has no portable working directory; coreutils' env changes it and execs.
    if let directory {
      arguments = ["-C", directory, path] + arguments
      path = "/usr/bin/env"
    }
    let stdoutFile = try scratchFile(), stderrFile = try scratchFile()
    defer { close(stdoutFile); close(stderrFile) }
    let stdinFile = try input.map { data -> Int32 in
      let fd = try scratchFile()
      try writeAll(data, to: fd)
      lseek(fd, 0, SEEK_SET)
      return fd
    } ?? open("/dev/null", O_RDONLY | O_CLOEXEC)
    defer { close(stdinFile) }

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, stdinFile, 0)
    posix_spawn_file_actions_adddup2(&actions, stdoutFile, 1)
    if !passStandardError { posix_spawn_file_actions_adddup2(&actions, stderrFile, 2) }

    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    // Own process group; no blocked signals and default handlers whatever this process set up.
    var noSignals = sigset_t(), allSignals = sigset_t()
    sigemptyset(&noSignals)
    sigfillset(&allSignals)
    posix_spawnattr_setsigmask(&attributes, &noSignals)
    posix_spawnattr_setsigdefault(&attributes, &allSignals)
    posix_spawnattr_setpgroup(&attributes, 0)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

    let merged = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { (argv + envp).forEach { free($0) } }

    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
    guard spawned == 0 else {
      throw Failure(description: "cannot run '\(executable)': \(String(cString: strerror(spawned)))")
    }

    let deadline = ContinuousClock.now + .milliseconds(Int64(timeLimit * 1000))
    var waitStatus: Int32 = 0, timedOut = false, pause: UInt32 = 1000
    while true {
      let r = waitpid(pid, &waitStatus, WNOHANG)
      if r == pid { break }
      if r < 0 && errno != EINTR { throw Failure(description: "cannot wait for '\(executable)': \(String(cString: strerror(errno)))") }
      if ContinuousClock.now >= deadline {
        timedOut = true
        // The child and whatever it started that stayed in its group.
        kill(-pid, SIGKILL)
        while waitpid(pid, &waitStatus, 0) < 0 && errno == EINTR {}
        break
      }
      usleep(pause)
      pause = min(pause * 2, 50_000)
    }
    let signal = waitStatus & 0x7f
    let status = signal == 0 ? (waitStatus >> 8) & 0xff : 128 + signal
    return ChildProcessResult(status: status, stdout: readAll(stdoutFile), stderr: readAll(stderrFile), timedOut: timedOut)
  }

  /// The path `executable` names: itself when it has a slash, else the first match on PATH.
  static func resolve(_ executable: String) -> String? {
    if executable.contains("/") { return access(executable, X_OK) == 0 ? executable : nil }
    let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
    return dirs.map { "\($0)/\(executable)" }.first { access($0, X_OK) == 0 }
  }

  /// A read-write temporary file that is already unlinked (it goes when closed).
  static func scratchFile() throws -> Int32 {
    var template = Array((FileManager.default.temporaryDirectory.path + "/mixprec-child-XXXXXX").utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    guard fd >= 0 else { throw Failure(description: "cannot create a temporary file: \(String(cString: strerror(errno)))") }
    _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
    return fd
  }

  static func writeAll(_ data: Data, to fd: Int32) throws {
    try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
      var done = 0
      while done < bytes.count {
        let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { throw Failure(description: "cannot write a temporary file: \(String(cString: strerror(errno)))") }
        done += n
      }
    }
  }

  static func readAll(_ fd: Int32) -> String {
    lseek(fd, 0, SEEK_SET)
    var data = [UInt8](), chunk = [UInt8](repeating: 0, count: 65536)
    while true {
      let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
      if n < 0 && errno == EINTR { continue }
      guard n > 0 else { break }
      data += chunk[0..<n]
    }
    return String(decoding: data, as: UTF8.self)
  }
}
