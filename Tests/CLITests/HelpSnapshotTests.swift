import Foundation
import XCTest

/// `mixprec … --help` against the stored texts in `Snapshots/` (STYLE.md 9): a changed option,
/// default or help line shows up as a diff. Re-record with MIXPREC_RECORD_SNAPSHOTS=1.
final class HelpSnapshotTests: XCTestCase {
  static let snapshots = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Snapshots")
  static let commands = ["", "inspect", "run", "quantize", "analyze", "merge", "tune", "report", "bench"]

  func help(_ command: String) throws -> String {
    // A fixed width: the parser wraps help text to the terminal's columns.
    let r = try runMixprec((command.isEmpty ? [] : [command]) + ["--help"], in: Self.snapshots, environment: ["COLUMNS": "100"])
    XCTAssertEqual(r.status, 0, "mixprec \(command) --help exited \(r.status)")
    return r.stdout + r.stderr
  }

  func testHelpTextsMatchTheSnapshots() throws {
    let record = ProcessInfo.processInfo.environment["MIXPREC_RECORD_SNAPSHOTS"] == "1"
    for command in Self.commands {
      let file = Self.snapshots.appendingPathComponent("help-\(command.isEmpty ? "mixprec" : command).txt")
      let text = try help(command)
      if record {
        try FileManager.default.createDirectory(at: Self.snapshots, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: file)
        continue
      }
      let stored = try String(contentsOf: file, encoding: .utf8)
      XCTAssertEqual(text, stored, "`mixprec \(command) --help` differs from \(file.lastPathComponent); re-record with MIXPREC_RECORD_SNAPSHOTS=1 if intended")
    }
  }
}
