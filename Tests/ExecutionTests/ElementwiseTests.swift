import Foundation
import XCTest

@testable import Execution
@testable import GraphIR
@testable import TensorCore

final class ElementwiseTests: XCTestCase {
  /// Broadcast arithmetic equals an index-by-index computation for several shape pairs.
  func testBroadcastArithmeticMatchesIndexMath() throws {
    let pairs: [([Int], [Int])] = [([2, 3, 4], [3, 1]), ([2, 3, 4], [4]), ([1], [2, 5]), ([3, 1, 5], [1, 4, 1]),
                                   ([2, 3], [2, 3]), ([0, 3], [3]), ([7], [])]
    for (k, (sa, sb)) in pairs.enumerated() {
      let a = randomTensor(sa, seed: UInt64(k)), b = randomTensor(sb, seed: UInt64(k + 100))
      let out = ShapeMath.broadcast(sa, sb)!
      for (op, f) in [("Add", { (x: Float, y: Float) in x + y }), ("Sub", { $0 - $1 }), ("Mul", { $0 * $1 }),
                      ("Div", { $0 / $1 })] {
        let got = try runOp(op, [a, b])[0]
        XCTAssertEqual(got.shape, out)
        var want: [Float] = []
        for flat in 0..<out.reduce(1, *) {
          var rem = flat
          var coord = [Int](repeating: 0, count: out.count)
          for d in stride(from: out.count - 1, through: 0, by: -1) { coord[d] = rem % out[d]; rem /= out[d] }
          func pick(_ t: Tensor) -> Float {
            let lead = out.count - t.rank
            var idx = 0
            for d in 0..<t.rank { idx = idx * t.shape[d] + (t.shape[d] == 1 ? 0 : coord[d + lead]) }
            return t.floats[idx]
          }
          want.append(f(pick(a), pick(b)))
        }
        assertClose(got.floats, want, tolerance: 0, "\(op) \(sa) \(sb)")
      }
    }
  }

  func testIntegerArithmeticTruncatesAndWraps() throws {
    let a = Tensor(shape: [4], ints: [7, -7, 9, 5]), b = Tensor(shape: [4], ints: [2, 2, -4, 0])
    XCTAssertEqual(try runOp("Div", [a, b])[0].ints, [3, -3, -2, 0])
    XCTAssertEqual(try runOp("Mul", [a, Tensor(shape: [], ints: [3])])[0].ints, [21, -21, 27, 15])
    XCTAssertEqual(try runOp("Mod", [a, Tensor(shape: [4], ints: [3, 3, 4, 3])])[0].ints, [1, 2, 1, 2])
  }

  func testPowComparisonLogicAndWhere() throws {
    let x = Tensor(shape: [4], floats: [-2, 0, 1.5, 3])
    assertClose(try runOp("Pow", [x, Tensor(shape: [], floats: [2])])[0].floats, [4, 0, 2.25, 9], tolerance: 0)
    assertClose(try runOp("Pow", [Tensor(shape: [2], floats: [4, 9]), Tensor(shape: [], floats: [0.5])])[0].floats, [2, 3], tolerance: 1e-6)
    let y = Tensor(shape: [], floats: [1.5])
    XCTAssertEqual(try runOp("Less", [x, y])[0].bools, [true, true, false, false])
    XCTAssertEqual(try runOp("GreaterOrEqual", [x, y])[0].bools, [false, false, true, true])
    XCTAssertEqual(try runOp("Equal", [x, y])[0].bools, [false, false, true, false])
    XCTAssertEqual(try runOp("Greater", [x, y])[0].bools, [false, false, false, true])
    let c = Tensor(shape: [2, 1], bools: [true, false])
    XCTAssertEqual(try runOp("And", [c, Tensor(shape: [2], bools: [true, false])])[0].bools, [true, false, false, false])
    XCTAssertEqual(try runOp("Not", [c])[0].bools, [false, true])
    let w = try runOp("Where", [c, Tensor(shape: [3], floats: [1, 2, 3]), Tensor(shape: [], floats: [-1])])[0]
    XCTAssertEqual(w.shape, [2, 3])
    XCTAssertEqual(w.floats, [1, 2, 3, -1, -1, -1])
    XCTAssertEqual(try runOp("IsNaN", [Tensor(shape: [3], floats: [.nan, 1, .infinity])])[0].bools, [true, false, false])
  }

  /// The branch-free erf (a rational minimax form) against libm on a dense grid over [−6, 6]
  /// and at the special values.
  func testErfMatchesLibm() {
    let erf = ErfFunction()
    var worst: Float = 0
    for i in -60_000...60_000 {
      let x = Float(i) / 10_000
      worst = max(worst, abs(erf(x) - erff(x)))
    }
    XCTAssertLessThanOrEqual(worst, 5e-7, "max |erf − erff| over [−6, 6]")
    XCTAssertEqual(erf(0), 0)
    XCTAssertEqual(erf(.infinity), 1)
    XCTAssertEqual(erf(-.infinity), -1)
    XCTAssertTrue(erf(.nan).isNaN)
  }

  func testIncompatibleShapesAreAnError() {
    XCTAssertThrowsError(try runOp("Add", [randomTensor([2, 3], seed: 1), randomTensor([4], seed: 2)])) {
      XCTAssertTrue("\($0)".contains("do not broadcast"), "\($0)")
    }
  }
}
