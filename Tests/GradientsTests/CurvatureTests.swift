import Execution
import Foundation
import Gradients
import GraphIR
import TensorCore
import XCTest

/// The distillation loss's gradient and Hessian products against independent computations.
final class CurvatureTests: XCTestCase {
  static func random(_ shape: [Int], seed: UInt64, scale: Float = 0.5) -> Tensor {
    var g = SeededGenerator(seed: seed)
    return Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -scale...scale, using: &g) })
  }

  /// x [N, 4] → Gemm(Wᵀ) → Softmax: the Gauss–Newton matrix has a closed form.
  func linearSoftmax() -> Graph {
    Graph(
      nodes: [
        Node(name: "fc", opType: "Gemm", inputs: ["x", "w"], outputs: ["z"], attributes: ["transB": .int(1)]),
        Node(name: "sm", opType: "Softmax", inputs: ["z"], outputs: ["p"], attributes: ["axis": .int(-1)]),
      ],
      inputs: [ValueInfo(name: "x", dtype: .float32, shape: [nil, 4])], outputs: [ValueInfo(name: "p", dtype: .float32, shape: [nil, 3])],
      initializers: ["w": Self.random([3, 4], seed: 1, scale: 1)], opset: 13)
  }

  /// Conv → Relu → depthwise Conv → HardSwish → Conv (1×1) → Flatten → Gemm → Softmax.
  static func smallCNN() -> Graph {
    Graph(
      nodes: [
        Node(name: "c1", opType: "Conv", inputs: ["x", "w1", "b1"], outputs: ["a"], attributes: ["pads": .ints([1, 1, 1, 1]), "strides": .ints([2, 2])]),
        Node(name: "r1", opType: "Relu", inputs: ["a"], outputs: ["ar"], attributes: [:]),
        Node(name: "dw", opType: "Conv", inputs: ["ar", "w2"], outputs: ["b"], attributes: ["group": .int(4), "pads": .ints([1, 1, 1, 1])]),
        Node(name: "hs", opType: "HardSwish", inputs: ["b"], outputs: ["bh"], attributes: [:]),
        Node(name: "pw", opType: "Conv", inputs: ["bh", "w3"], outputs: ["c"], attributes: [:]),
        Node(name: "fl", opType: "Flatten", inputs: ["c"], outputs: ["f"], attributes: [:]),
        Node(name: "fc", opType: "Gemm", inputs: ["f", "w4", "b4"], outputs: ["z"], attributes: ["transB": .int(1)]),
        Node(name: "sm", opType: "Softmax", inputs: ["z"], outputs: ["p"], attributes: ["axis": .int(1)]),
      ],
      inputs: [ValueInfo(name: "x", dtype: .float32, shape: [nil, 2, 6, 6])], outputs: [ValueInfo(name: "p", dtype: .float32, shape: [nil, 5])],
      initializers: ["w1": random([4, 2, 3, 3], seed: 2), "b1": random([4], seed: 3), "w2": random([4, 1, 3, 3], seed: 4, scale: 1),
                     "w3": random([3, 4, 1, 1], seed: 5, scale: 1), "w4": random([5, 27], seed: 6), "b4": random([5], seed: 7)],
      opset: 13)
  }

  func testHessianProductEqualsClosedFormGaussNewton() throws {
    let session = try Session(graph: linearSoftmax())
    let x = Self.random([6, 4], seed: 8, scale: 2)
    let model = try CurvatureModel(session: session, feeds: ["x": x], batch: 4)  // two batches
    XCTAssertEqual(model.layers.map(\.name), ["fc"])
    let v = Self.random([3, 4], seed: 9, scale: 1).floats
    let hv = try model.hessianProduct(["w": v], step: 1e-3)["w"]!
    // H·v = (1/N) Σ_n ((diag p − p pᵀ)·(V·x_n)) x_nᵀ.
    let w = linearSoftmax().initializers["w"]!.floats, xs = x.floats
    var expected = [Double](repeating: 0, count: 12)
    for n in 0..<6 {
      let xn = (0..<4).map { Double(xs[n * 4 + $0]) }
      let z = (0..<3).map { c in (0..<4).reduce(0.0) { $0 + Double(w[c * 4 + $1]) * xn[$1] } }
      let e = z.map { Foundation.exp($0 - z.max()!) }, p = e.map { $0 / e.reduce(0, +) }
      let dz = (0..<3).map { c in (0..<4).reduce(0.0) { $0 + Double(v[c * 4 + $1]) * xn[$1] } }
      let dot = zip(p, dz).reduce(0.0) { $0 + $1.0 * $1.1 }
      for c in 0..<3 { for d in 0..<4 { expected[c * 4 + d] += p[c] * (dz[c] - dot) * xn[d] / 6 } }
    }
    let err = zip(hv, expected).map { abs(Double($0) - $1) }.max()!
    let scale = expected.map(abs).max()!
    XCTAssertLessThan(err / scale, 1e-3, "H·v \(hv) vs closed form \(expected)")
  }

  /// At the FP32 weights the loss's gradient vanishes and its derivative along d is H·d.
  func testHessianProductIsTheDerivativeOfTheGradient() throws {
    let session = try Session(graph: Self.smallCNN())
    let x = Self.random([8, 2, 6, 6], seed: 10, scale: 1)
    let model = try CurvatureModel(session: session, feeds: ["x": x], batch: 8)
    XCTAssertEqual(model.layers.map(\.name), ["c1", "dw", "pw", "fc"])
    let (loss0, grad0) = try model.gradient()
    XCTAssertEqual(loss0, 0, accuracy: 1e-7)
    XCTAssertLessThan(grad0.values.flatMap { $0 }.map(abs).max()!, 1e-6)
    var d: [String: [Float]] = [:]
    for (k, l) in model.layers.enumerated() { d[l.weight] = Self.random(model.weights[l.weight]!.shape, seed: 20 + UInt64(k), scale: 1).floats }
    let hd = try model.hessianProduct(d, step: 1e-3)
    let eps: Float = 1e-2
    func shifted(_ sign: Float) -> [String: Tensor] {
      var o: [String: Tensor] = [:]
      for (name, dv) in d {
        let w = model.weights[name]!
        o[name] = Tensor(shape: w.shape, floats: zip(w.floats, dv).map { $0 + sign * eps * $1 })
      }
      return o
    }
    let gp = try model.gradient(weights: shifted(1)).gradient, gm = try model.gradient(weights: shifted(-1)).gradient
    for l in model.layers {
      let fd = zip(gp[l.weight]!, gm[l.weight]!).map { Double($0 - $1) / Double(2 * eps) }
      let an = hd[l.weight]!.map(Double.init)
      let diff = zip(fd, an).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
      let norm = an.reduce(0.0) { $0 + $1 * $1 }.squareRoot()
      XCTAssertGreaterThan(norm, 0, l.name)
      XCTAssertLessThan(diff / norm, 2e-2, "layer \(l.name): ‖FD − H·d‖/‖H·d‖")
    }
  }

  /// The logits are the Softmax's input even when an Identity names the output (the classifier's
  /// graph ends Softmax → Identity): treating probabilities as logits flattens every curvature.
  func testLogitsAreFoundThroughIdentity() {
    var g = linearSoftmax()
    g.nodes.append(Node(name: "id", opType: "Identity", inputs: ["p"], outputs: ["out"], attributes: [:]))
    g.outputs = [ValueInfo(name: "out", dtype: .float32, shape: [nil, 3])]
    XCTAssertEqual(CurvatureModel.logits(of: g, output: "out"), "z")
    XCTAssertEqual(CurvatureModel.logits(of: linearSoftmax(), output: "p"), "z")
    var noSoftmax = linearSoftmax()
    noSoftmax.nodes.removeLast()
    noSoftmax.outputs = [ValueInfo(name: "z", dtype: .float32, shape: [nil, 3])]
    XCTAssertEqual(CurvatureModel.logits(of: noSoftmax, output: "z"), "z")
  }

  /// The factored trace sample is never negative and its mean tends to Tr(H) of each block.
  func testTraceSamplesAreNonNegative() throws {
    let session = try Session(graph: Self.smallCNN())
    let model = try CurvatureModel(session: session, feeds: ["x": Self.random([4, 2, 6, 6], seed: 11, scale: 1)])
    var g = SeededGenerator(seed: 1)
    for _ in 0..<5 {
      let s = try model.traceSample { n in (0..<n).map { _ in g.next() & 1 == 0 ? -1 : 1 } }
      XCTAssertEqual(Set(s.keys), ["c1", "dw", "pw", "fc"])
      XCTAssertTrue(s.values.allSatisfy { $0 >= 0 })
    }
  }
}
