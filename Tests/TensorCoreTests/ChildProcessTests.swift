import Foundation
import XCTest

@testable import TensorCore

/// `ChildProcess.run` returns when the child ends, whatever the child left behind, and never
/// waits past its time limit.
final class ChildProcessTests: XCTestCase {
  func testStatusOutputInputAndDirectory() throws {
    let r = try ChildProcess.run("sh", ["-c", "cat; pwd; echo oops >&2; exit 3"], directory: "/tmp", input: Data("in\n".utf8))
    XCTAssertEqual(r.status, 3)
    XCTAssertEqual(r.stdout, "in\n/tmp\n")
    XCTAssertEqual(r.stderr, "oops\n")
    XCTAssertFalse(r.timedOut)
    XCTAssertThrowsError(try ChildProcess.run("/no/such/program", []))
  }

  /// A daemon that keeps the child's output open does not hold the parent (pipes would), and
  /// both streams far beyond a pipe's buffer do not deadlock.
  func testBackgroundChildrenAndLargeOutputsDoNotHold() throws {
    let start = ContinuousClock.now
    let r = try ChildProcess.run("sh", ["-c", "sleep 20 & head -c 300000 /dev/zero; head -c 300000 /dev/zero >&2; echo done"])
    XCTAssertLessThan((ContinuousClock.now - start).seconds, 10)
    XCTAssertEqual(r.status, 0)
    XCTAssertEqual(r.stdout.utf8.count, 300_005)
    XCTAssertEqual(r.stderr.utf8.count, 300_000)
  }

  func testTimeLimitKillsTheProcessGroup() throws {
    let start = ContinuousClock.now
    let r = try ChildProcess.run("sh", ["-c", "sleep 30; echo late"], timeLimit: 0.5)
    XCTAssertLessThan((ContinuousClock.now - start).seconds, 10)
    XCTAssertTrue(r.timedOut)
    XCTAssertEqual(r.status, 128 + SIGKILL)
    XCTAssertEqual(r.stdout, "")
  }
}
