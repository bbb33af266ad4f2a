import Allocation
import XCTest

final class BudgetTests: XCTestCase {
  func testParsesUnits() throws {
    XCTAssertEqual(try Budget.parseSize("1.5MB"), 1.5 * 1_048_576)
    XCTAssertEqual(try Budget.parseSize("800 KB"), 800 * 1024)
    XCTAssertEqual(try Budget.parseSize("123456"), 123456)
    XCTAssertEqual(try Budget.parseSize("10b"), 10)
    XCTAssertEqual(try Budget.parseCompression("4x"), 4)
    XCTAssertEqual(try Budget.parseCompression("6"), 6)
    XCTAssertEqual(try Budget.parseBits("5.5"), 5.5)
    XCTAssertEqual(try Budget.parseLatency("3ms"), 3e-3, accuracy: 1e-15)
    XCTAssertEqual(try Budget.parseLatency("250us"), 250e-6, accuracy: 1e-15)
    XCTAssertEqual(try Budget.parseLatency("0.5s"), 0.5)
    XCTAssertEqual(try Budget.parseDrop("1%"), 0.01, accuracy: 1e-15)
  }

  func testRejectsNonsenseWithOneLine() {
    for (f, text) in [(Budget.parseSize, "big"), (Budget.parseSize, "-3MB"), (Budget.parseCompression, "0.5x"),
                      (Budget.parseBits, "3"), (Budget.parseLatency, "3"), (Budget.parseDrop, "1"), (Budget.parseDrop, "150%")] {
      XCTAssertThrowsError(try f(text)) { e in
        XCTAssertTrue("\(e)".contains(text), "\(e)")
        XCTAssertFalse("\(e)".contains("\n"))
      }
    }
  }

  func testAverageBitsBudgetBinds() throws {
    // Two layers of 100 weights: 32/16/8/4 bits; at most 6 bits on average → 1200 bits in all.
    let options = [32.0, 16, 8, 4].enumerated().map { k, b in
      AssignmentProblem.Option(label: "p\(k)", damage: Double(k), size: b * 100 / 8, bits: b * 100)
    }
    var p = AssignmentProblem(layers: [options, options.map { var o = $0; o.damage *= 3; return o }])
    p.bitsBudget = 6 * 200
    let s = try MILPSolver.solve(p)
    XCTAssertLessThanOrEqual(s.bits, 1200)
    XCTAssertEqual(s.choice, [3, 2], "the cheaper-to-damage layer goes to 4 bits, the other keeps 8")
    p.bitsBudget = 3 * 200
    XCTAssertThrowsError(try MILPSolver.solve(p)) { XCTAssertTrue("\($0)".contains("smallest achievable 800 bits")) }
  }
}
