import Foundation
import XCTest

@testable import Execution
@testable import GraphIR
@testable import TensorCore

final class PoolNormResizeTests: XCTestCase {
  func testMaxAndAveragePoolWithPadding() throws {
    // One 3×4 plane: values 1...12.
    let x = Tensor(shape: [1, 1, 3, 4], floats: (1...12).map(Float.init))
    let attrs: [String: Attribute] = ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2]), "pads": .ints([1, 1, 1, 1])]
    let mp = try runOp("MaxPool", [x], attributes: attrs)[0]
    XCTAssertEqual(mp.shape, [1, 1, 2, 3])
    XCTAssertEqual(mp.floats, [1, 3, 4, 9, 11, 12])
    // Excluding pads: windows hold 1, 2, 1 … cells.
    let ap = try runOp("AveragePool", [x], attributes: attrs)[0]
    XCTAssertEqual(ap.floats, [1, 2.5, 4, 7, 8.5, 10])
    var inc = attrs
    inc["count_include_pad"] = .int(1)
    XCTAssertEqual(try runOp("AveragePool", [x], attributes: inc)[0].floats, [0.25, 1.25, 1, 3.5, 8.5, 5])
  }

  func testCeilModeAddsAPartialWindow() throws {
    let x = Tensor(shape: [1, 1, 1, 5], floats: [1, 5, 2, 4, 3])
    let attrs: [String: Attribute] = ["kernel_shape": .ints([1, 2]), "strides": .ints([1, 2]), "ceil_mode": .int(1)]
    XCTAssertEqual(try runOp("MaxPool", [x], attributes: attrs)[0].floats, [5, 4, 3])
  }

  func testGlobalPools() throws {
    let x = Tensor(shape: [1, 2, 2, 2], floats: [1, 2, 3, 4, -1, -2, -3, 10])
    XCTAssertEqual(try runOp("GlobalAveragePool", [x])[0].floats, [2.5, 1])
    XCTAssertEqual(try runOp("GlobalMaxPool", [x])[0].shape, [1, 2, 1, 1])
    XCTAssertEqual(try runOp("GlobalMaxPool", [x])[0].floats, [4, 10])
  }

  func testLayerNormMatchesDefinition() throws {
    let x = randomTensor([2, 3, 5], seed: 1), g = randomTensor([5], seed: 2), b = randomTensor([5], seed: 3)
    let got = try runOp("LayerNormalization", [x, g, b], attributes: ["epsilon": .float(1e-5)])[0]
    var want: [Float] = []
    for r in 0..<6 {
      let row = Array(x.floats[(r * 5)..<(r * 5 + 5)]).map(Double.init)
      let mean = row.reduce(0, +) / 5, v = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 5
      want += (0..<5).map { Float((row[$0] - mean) / (v + 1e-5).squareRoot()) * g.floats[$0] + b.floats[$0] }
    }
    assertClose(got.floats, want, tolerance: 1e-5)
  }

  func testBatchAndInstanceNorm() throws {
    let x = randomTensor([2, 2, 3], seed: 4)
    let s = Tensor(shape: [2], floats: [2, -1]), bias = Tensor(shape: [2], floats: [0.5, 0])
    let mean = Tensor(shape: [2], floats: [0.1, -0.2]), variance = Tensor(shape: [2], floats: [4, 0.25])
    let bn = try runOp("BatchNormalization", [x, s, bias, mean, variance], attributes: ["epsilon": .float(0)])[0]
    let want = (0..<12).map { i -> Float in let c = (i / 3) % 2; return (x.floats[i] - mean.floats[c]) / variance.floats[c].squareRoot() * s.floats[c] + bias.floats[c] }
    assertClose(bn.floats, want, tolerance: 1e-6)
    let inorm = try runOp("InstanceNormalization", [x, s, bias], attributes: ["epsilon": .float(0)])[0]
    for item in 0..<4 {
      let v = Array(inorm.floats[(item * 3)..<(item * 3 + 3)]), c = item % 2
      XCTAssertEqual(Double(v.reduce(0, +)) / 3, Double(bias.floats[c]), accuracy: 1e-5)
    }
  }

  func testResizeNearestAndLinear() throws {
    let x = Tensor(shape: [1, 1, 1, 2], floats: [1, 2])
    let scales = Tensor(shape: [4], floats: [1, 1, 1, 2])
    let lin = try runOp("Resize", [x, nil, scales], attributes: ["mode": .string("linear")], opset: 13)[0]
    XCTAssertEqual(lin.shape, [1, 1, 1, 4])
    assertClose(lin.floats, [1, 1.25, 1.75, 2], tolerance: 1e-6)
    let near = try runOp("Resize", [x, nil, scales], attributes: ["mode": .string("nearest"),
      "coordinate_transformation_mode": .string("asymmetric"), "nearest_mode": .string("floor")], opset: 13)[0]
    XCTAssertEqual(near.floats, [1, 1, 2, 2])
    let sizes = Tensor(shape: [4], ints: [1, 1, 1, 3])
    let ac = try runOp("Resize", [x, nil, nil, sizes], attributes: ["mode": .string("linear"),
      "coordinate_transformation_mode": .string("align_corners")], opset: 13)[0]
    assertClose(ac.floats, [1, 1.5, 2], tolerance: 1e-6)
    XCTAssertThrowsError(try runOp("Resize", [x, nil, scales], attributes: ["mode": .string("cubic")], opset: 13))
  }
}
