import Foundation
import TensorCore
import XCTest

/// What one run of the built `mixprec` binary printed and returned.
struct BinaryRun {
  var status: Int32
  var stdout: String
  var stderr: String
}

/// Runs the built `mixprec` with `args` in `directory`, with `environment` over this process's
/// (e.g. XDG_CACHE_HOME, so latency tables stay the test's own). A run past `timeLimit` seconds
/// is killed and fails the calling test instead of hanging the suite.
func runMixprec(_ args: [String], in directory: URL, environment: [String: String] = [:], timeLimit: Double = 900,
  file: StaticString = #filePath, line: UInt = #line) throws -> BinaryRun {
  let binary = Bundle.main.bundleURL.appendingPathComponent("mixprec").path
  let r = try ChildProcess.run(binary, args, environment: environment, directory: directory.path, timeLimit: timeLimit)
  if r.timedOut { XCTFail("mixprec \(args.joined(separator: " ")) ran past \(Int(timeLimit)) s and was killed", file: file, line: line) }
  return BinaryRun(status: r.status, stdout: r.stdout, stderr: r.stderr)
}
