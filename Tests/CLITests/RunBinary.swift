import Foundation

/// What one run of the built `mixprec` binary printed and returned.
struct BinaryRun {
  var status: Int32
  var stdout: String
  var stderr: String
}

/// Runs the built `mixprec` with `args` in `directory`, with `environment` over this process's
/// (e.g. XDG_CACHE_HOME, so latency tables stay the test's own).
func runMixprec(_ args: [String], in directory: URL, environment: [String: String] = [:]) throws -> BinaryRun {
  let p = Process()
  p.executableURL = Bundle.main.bundleURL.appendingPathComponent("mixprec")
  p.arguments = args
  p.currentDirectoryURL = directory
  p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
  let out = Pipe(), err = Pipe()
  p.standardOutput = out
  p.standardError = err
  try p.run()
  let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
  p.waitUntilExit()
  return BinaryRun(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}
