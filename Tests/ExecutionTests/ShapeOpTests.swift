import XCTest

@testable import Execution
@testable import GraphIR
@testable import TensorCore

final class ShapeOpTests: XCTestCase {
  let x = Tensor(shape: [2, 3], floats: [0, 1, 2, 3, 4, 5])

  func ints(_ v: [Int64]) -> Tensor { Tensor(shape: [v.count], ints: v) }

  func testReshapeFlattenSqueezeUnsqueeze() throws {
    XCTAssertEqual(try runOp("Reshape", [x, ints([0, -1])])[0].shape, [2, 3])
    XCTAssertEqual(try runOp("Reshape", [x, ints([3, -1])])[0].shape, [3, 2])
    XCTAssertThrowsError(try runOp("Reshape", [x, ints([4, -1])]))
    XCTAssertEqual(try runOp("Reshape", [Tensor.zeros([0, 3]), ints([0, 3])], attributes: ["allowzero": .int(1)])[0].shape, [0, 3])
    XCTAssertEqual(try runOp("Flatten", [Tensor.zeros([2, 3, 4])], attributes: ["axis": .int(2)])[0].shape, [6, 4])
    XCTAssertEqual(try runOp("Unsqueeze", [x, ints([0, -1])], opset: 13)[0].shape, [1, 2, 3, 1])
    XCTAssertEqual(try runOp("Unsqueeze", [x], attributes: ["axes": .ints([1])], opset: 11)[0].shape, [2, 1, 3])
    XCTAssertEqual(try runOp("Squeeze", [Tensor.zeros([1, 2, 1])], opset: 13)[0].shape, [2])
    XCTAssertEqual(try runOp("Squeeze", [Tensor.zeros([1, 2, 1]), ints([2])], opset: 13)[0].shape, [1, 2])
    XCTAssertThrowsError(try runOp("Squeeze", [x, ints([0])], opset: 13))
  }

  func testTransposeConcatSplit() throws {
    XCTAssertEqual(try runOp("Transpose", [x])[0].floats, [0, 3, 1, 4, 2, 5])
    let t3 = Tensor(shape: [2, 2, 2], floats: (0..<8).map(Float.init))
    XCTAssertEqual(try runOp("Transpose", [t3], attributes: ["perm": .ints([1, 2, 0])])[0].floats, [0, 4, 1, 5, 2, 6, 3, 7])
    let c = try runOp("Concat", [x, Tensor(shape: [2, 1], floats: [9, 8])], attributes: ["axis": .int(-1)])[0]
    XCTAssertEqual(c.shape, [2, 4])
    XCTAssertEqual(c.floats, [0, 1, 2, 9, 3, 4, 5, 8])
    let parts = try runOp("Split", [x, ints([1, 2])], attributes: ["axis": .int(1)], outputs: 2, opset: 13)
    XCTAssertEqual(parts.map(\.floats), [[0, 3], [1, 2, 4, 5]])
    let even = try runOp("Split", [Tensor(shape: [4], floats: [1, 2, 3, 4])], outputs: 2, opset: 11)
    XCTAssertEqual(even.map(\.floats), [[1, 2], [3, 4]])
  }

  func testSliceClampsAndSteps() throws {
    let v = Tensor(shape: [6], floats: (0..<6).map(Float.init))
    XCTAssertEqual(try runOp("Slice", [v, ints([1]), ints([Int64.max])])[0].floats, [1, 2, 3, 4, 5])
    XCTAssertEqual(try runOp("Slice", [v, ints([-1]), ints([Int64.min]), ints([0]), ints([-2])])[0].floats, [5, 3, 1])
    XCTAssertEqual(try runOp("Slice", [x, ints([1]), ints([3]), ints([1])])[0].floats, [1, 2, 4, 5])
    XCTAssertEqual(try runOp("Slice", [v, ints([4]), ints([2])])[0].shape, [0])
    XCTAssertEqual(try runOp("Slice", [v], attributes: ["starts": .ints([2]), "ends": .ints([4])], opset: 9)[0].floats, [2, 3])
  }

  func testGatherExpandTilePad() throws {
    let g = try runOp("Gather", [x, ints([-1, 0])], attributes: ["axis": .int(1)])[0]
    XCTAssertEqual(g.floats, [2, 0, 5, 3])
    XCTAssertEqual(try runOp("Gather", [x, Tensor(shape: [], ints: [1])])[0].floats, [3, 4, 5])
    XCTAssertThrowsError(try runOp("Gather", [x, ints([2])]))
    let e = try runOp("Expand", [Tensor(shape: [2, 1], floats: [1, 2]), ints([2, 3])])[0]
    XCTAssertEqual(e.floats, [1, 1, 1, 2, 2, 2])
    XCTAssertEqual(try runOp("Tile", [x, ints([1, 2])])[0].floats, [0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5])
    let row = Tensor(shape: [1, 3], floats: [1, 2, 3])
    XCTAssertEqual(try runOp("Pad", [row, ints([0, 2, 0, 1]), Tensor(shape: [], floats: [9])])[0].floats, [9, 9, 1, 2, 3, 9])
    XCTAssertEqual(try runOp("Pad", [row, ints([0, 2, 0, 2])], attributes: ["mode": .string("reflect")])[0].floats, [3, 2, 1, 2, 3, 2, 1])
    XCTAssertEqual(try runOp("Pad", [row, ints([0, 1, 0, 2])], attributes: ["mode": .string("edge")])[0].floats, [1, 1, 2, 3, 3, 3])
  }

  func testCastRangeConstantOfShapeShape() throws {
    let f = Tensor(shape: [3], floats: [1.7, -1.7, 0])
    XCTAssertEqual(try runOp("Cast", [f], attributes: ["to": .int(7)])[0].ints, [1, -1, 0])
    XCTAssertEqual(try runOp("Cast", [f], attributes: ["to": .int(9)])[0].bools, [true, true, false])
    XCTAssertEqual(try runOp("Cast", [Tensor(shape: [1], floats: [1.0001])], attributes: ["to": .int(10)])[0].floats, [1])
    XCTAssertEqual(try runOp("Range", [Tensor(shape: [], ints: [10]), Tensor(shape: [], ints: [4]), Tensor(shape: [], ints: [-3])])[0].ints, [10, 7])
    assertClose(try runOp("Range", [Tensor(shape: [], floats: [0]), Tensor(shape: [], floats: [1]), Tensor(shape: [], floats: [0.25])])[0].floats,
      [0, 0.25, 0.5, 0.75], tolerance: 0)
    let cos = try runOp("ConstantOfShape", [ints([2, 2])], attributes: ["value": .tensor(Tensor(shape: [1], ints: [3]))])[0]
    XCTAssertEqual(cos.ints, [3, 3, 3, 3])
    XCTAssertEqual(try runOp("Shape", [Tensor.zeros([2, 5, 7])], attributes: ["start": .int(1)])[0].ints, [5, 7])
  }

  func testReductionsAndArgMax() throws {
    XCTAssertEqual(try runOp("ReduceSum", [x, ints([1])], opset: 13)[0].floats, [3, 12])
    XCTAssertEqual(try runOp("ReduceSum", [x, ints([1])], attributes: ["keepdims": .int(0)], opset: 13)[0].shape, [2])
    XCTAssertEqual(try runOp("ReduceMean", [x], attributes: ["axes": .ints([0])], opset: 13)[0].floats, [1.5, 2.5, 3.5])
    XCTAssertEqual(try runOp("ReduceMean", [x, ints([0])], opset: 18)[0].floats, [1.5, 2.5, 3.5])
    XCTAssertEqual(try runOp("ReduceMax", [x], opset: 13)[0].floats, [5])
    XCTAssertEqual(try runOp("ReduceMax", [x], opset: 13)[0].shape, [1, 1])
    assertClose(try runOp("ReduceL2", [x], attributes: ["axes": .ints([1])], opset: 13)[0].floats, [Float(5.0.squareRoot()), Float(50.0.squareRoot())], tolerance: 1e-6)
    let ties = Tensor(shape: [2, 3], floats: [1, 3, 3, 0, -1, 0])
    XCTAssertEqual(try runOp("ArgMax", [ties], attributes: ["axis": .int(1)])[0].ints, [1, 0])
    XCTAssertEqual(try runOp("ArgMax", [ties], attributes: ["axis": .int(1), "select_last_index": .int(1), "keepdims": .int(0)])[0].ints, [2, 2])
  }

  /// Every reduction over a run of axes and over a split set (the general path) equals its
  /// definition element by element on a [2, 3, 4, 5] tensor; int inputs stay ints.
  func testReductionsOverRunsAndSplitAxesMatchTheDefinition() throws {
    let shape = [2, 3, 4, 5]
    let t = Tensor(shape: shape, floats: (0..<120).map { Float(($0 * 37) % 23) - 11 })
    let v = t.floats
    for axes in [[1], [1, 2], [0, 1, 2, 3], [3], [0, 2], [1, 3]] {
      for op in ["ReduceSum", "ReduceMax", "ReduceSumSquare"] {
        let y = try runOp(op, [t, ints(axes.map(Int64.init))], opset: 18)[0]
        let kept = (0..<4).map { axes.contains($0) ? 1 : shape[$0] }
        var want = [Double](repeating: op == "ReduceMax" ? -.infinity : 0, count: kept.reduce(1, *))
        for i in 0..<120 {
          var rest = i, out = 0, stride = 1
          var coords = [Int](repeating: 0, count: 4)
          for d in (0..<4).reversed() { coords[d] = rest % shape[d]; rest /= shape[d] }
          for d in (0..<4).reversed() where !axes.contains(d) { out += coords[d] * stride; stride *= shape[d] }
          let e = Double(v[i])
          want[out] = op == "ReduceMax" ? Swift.max(want[out], e) : want[out] + (op == "ReduceSum" ? e : e * e)
        }
        XCTAssertEqual(y.shape, kept, "\(op) over \(axes)")
        XCTAssertEqual(y.floats, want.map { Float($0) }, "\(op) over \(axes)")
      }
    }
    let counts = Tensor(shape: [2, 3], ints: [1, 2, 3, 4, 5, 6])
    XCTAssertEqual(try runOp("ReduceSum", [counts, ints([1])], opset: 13)[0].ints, [6, 15])
  }

  /// Gather copies whole inner blocks on a middle axis, for float, int and bool storage.
  func testGatherOnAMiddleAxisForEveryStorage() throws {
    let f = Tensor(shape: [2, 3, 2], floats: (0..<12).map(Float.init))
    let g = try runOp("Gather", [f, ints([2, 0, 2])], attributes: ["axis": .int(1)])[0]
    XCTAssertEqual(g.shape, [2, 3, 2])
    XCTAssertEqual(g.floats, [4, 5, 0, 1, 4, 5, 10, 11, 6, 7, 10, 11])
    let i = Tensor(shape: [2, 3], ints: [1, 2, 3, 4, 5, 6])
    XCTAssertEqual(try runOp("Gather", [i, ints([-1, 1])], attributes: ["axis": .int(1)])[0].ints, [3, 2, 6, 5])
    let b = Tensor(shape: [3], bools: [true, false, true])
    XCTAssertEqual(try runOp("Gather", [b, ints([1, 2])])[0].bools, [false, true])
    XCTAssertEqual(try runOp("Gather", [f, Tensor(shape: [0], ints: [])], attributes: ["axis": .int(1)])[0].shape, [2, 0, 2])
  }
}
