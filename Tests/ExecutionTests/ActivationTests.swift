import Foundation
import XCTest

@testable import Execution
@testable import GraphIR
@testable import TensorCore

final class ActivationTests: XCTestCase {
  let x = Tensor(shape: [7], floats: [-4, -3, -1, 0, 0.5, 3, 4])

  func apply(_ op: String, _ attrs: [String: Attribute] = [:], opset: Int = 17) throws -> [Float] {
    try runOp(op, [x], attributes: attrs, opset: opset)[0].floats
  }

  func testPiecewiseActivationsAtKnownPoints() throws {
    XCTAssertEqual(try apply("Relu"), [0, 0, 0, 0, 0.5, 3, 4])
    XCTAssertEqual(try apply("LeakyRelu", ["alpha": .float(0.1)]), [-0.4, -0.3, -0.1, 0, 0.5, 3, 4].map { Float($0) })
    // HardSigmoid default alpha 0.2, beta 0.5: clamp(0.2x + 0.5, 0, 1).
    assertClose(try apply("HardSigmoid"), [0, 0, 0.3, 0.5, 0.6, 1, 1], tolerance: 1e-6)
    // PaddleOCR's attributes: alpha 1/6, beta 0.5.
    assertClose(try apply("HardSigmoid", ["alpha": .float(1.0 / 6), "beta": .float(0.5)]),
      [0, 0, 1.0 / 3, 0.5, 0.5 + 0.5 / 6, 1, 1], tolerance: 1e-6)
    // HardSwish: x · clamp(x/6 + 0.5, 0, 1).
    assertClose(try apply("HardSwish"), [0, 0, -1.0 / 3, 0, 0.5 * (0.5 / 6 + 0.5), 3, 4], tolerance: 1e-6)
    assertClose(try runOp("PRelu", [x, Tensor(shape: [1], floats: [0.25])])[0].floats, [-1, -0.75, -0.25, 0, 0.5, 3, 4], tolerance: 0)
  }

  func testClipByInputsAndByAttributes() throws {
    let lo = Tensor(shape: [], floats: [-1]), hi = Tensor(shape: [], floats: [2])
    XCTAssertEqual(try runOp("Clip", [x, lo, hi], opset: 13)[0].floats, [-1, -1, -1, 0, 0.5, 2, 2])
    XCTAssertEqual(try runOp("Clip", [x, nil, hi], opset: 13)[0].floats, [-4, -3, -1, 0, 0.5, 2, 2])
    XCTAssertEqual(try apply("Clip", ["min": .float(0), "max": .float(1)], opset: 6), [0, 0, 0, 0, 0.5, 1, 1])
  }

  func testSmoothFunctionsAgainstLibm() throws {
    let v = x.floats
    assertClose(try apply("Sigmoid"), v.map { Float(1 / (1 + exp(-Double($0)))) }, tolerance: 1e-6)
    assertClose(try apply("Tanh"), v.map { Float(tanh(Double($0))) }, tolerance: 1e-6)
    assertClose(try apply("Erf"), v.map { Float(erf(Double($0))) }, tolerance: 1e-6)
    assertClose(try apply("Gelu"), v.map { Float(0.5 * Double($0) * (1 + erf(Double($0) / 2.0.squareRoot()))) }, tolerance: 1e-5)
    assertClose(try apply("Gelu", ["approximate": .string("tanh")]),
      v.map { let d = Double($0); return Float(0.5 * d * (1 + tanh((2 / Double.pi).squareRoot() * (d + 0.044715 * d * d * d)))) },
      tolerance: 1e-5)
    assertClose(try apply("Exp"), v.map { Float(exp(Double($0))) }, tolerance: 1e-4)
    assertClose(try apply("Abs"), v.map { abs($0) }, tolerance: 0)
    assertClose(try apply("Neg"), v.map { -$0 }, tolerance: 0)
    let pos = Tensor(shape: [3], floats: [0.25, 1, 9])
    assertClose(try runOp("Sqrt", [pos])[0].floats, [0.5, 1, 3], tolerance: 0)
    assertClose(try runOp("Log", [pos])[0].floats, [Float(log(0.25)), 0, Float(log(9.0))], tolerance: 1e-6)
  }

  /// Softmax before opset 13 flattens from `axis` on; from 13 it normalizes along `axis` alone.
  func testSoftmaxAxisSemanticsByOpset() throws {
    let t = randomTensor([2, 3, 4], seed: 5)
    let v = t.floats
    func softmax(_ values: [Float]) -> [Float] {
      let m = values.max()!
      let e = values.map { Float(exp(Double($0 - m))) }
      let s = e.reduce(0, +)
      return e.map { $0 / s }
    }
    // opset 13, axis 1: along the middle axis.
    var want13 = v
    for a in 0..<2 { for c in 0..<4 {
      let idx = (0..<3).map { (a * 3 + $0) * 4 + c }
      for (k, p) in softmax(idx.map { v[$0] }).enumerated() { want13[idx[k]] = p }
    } }
    assertClose(try runOp("Softmax", [t], attributes: ["axis": .int(1)], opset: 13)[0].floats, want13, tolerance: 1e-6)
    // opset 11, axis 1: over the last 12 values of each batch row.
    let want11 = softmax(Array(v[0..<12])) + softmax(Array(v[12..<24]))
    assertClose(try runOp("Softmax", [t], attributes: ["axis": .int(1)], opset: 11)[0].floats, want11, tolerance: 1e-6)
    assertClose(try runOp("LogSoftmax", [t], opset: 13)[0].floats.map { Float(exp(Double($0))) },
      try runOp("Softmax", [t], opset: 13)[0].floats, tolerance: 1e-6)
  }
}
