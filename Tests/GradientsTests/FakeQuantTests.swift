import Execution
import Foundation
import Gradients
import GraphIR
import TensorCore
import XCTest

/// FakeQuantize's straight-through gradients are exactly the gradients of its surrogate
/// clamp(x, lo, hi) (rounding passes through): checked against central differences of the
/// surrogate in x, lo and hi, with inputs away from the clip points.
final class FakeQuantTests: XCTestCase {
  func testStraightThroughGradientsMatchTheClampSurrogate() throws {
    var g = SeededGenerator(seed: 3)
    // Values on a grid offset from the bounds by at least 0.05.
    let x = (0..<60).map { Float($0) * 0.1 - 3.05 }.shuffled(using: &g)
    let lo: Float = -1.0, hi: Float = 2.0
    let u = (0..<60).map { _ in Float.random(in: -1...1, using: &g) }
    let node = TrainingOps.fakeQuantNode(name: "fq", input: "x", lo: "lo", hi: "hi", output: "y")
    let graph = Graph(nodes: [node], inputs: [], outputs: [ValueInfo(name: "y", dtype: .float32, shape: [])],
      initializers: ["x": Tensor(shape: [60], floats: x), "lo": Tensor(shape: [1], floats: [lo]), "hi": Tensor(shape: [1], floats: [hi])], opset: 17)
    let rg = try ReverseGraph(graph: graph)
    let trace = try rg.forward([:])
    // The forward pass is the quantized value: on the 255-level grid, inside the bounds.
    let y = trace["y"]!.floats, s = (hi - lo) / 255
    for (a, b) in zip(x, y) {
      XCTAssertLessThanOrEqual(abs(b - min(max(a, lo), hi)), s / 2 + 1e-6)
    }
    let grads = try rg.backward(trace, seeds: ["y": u], parameters: ["x", "lo", "hi"])
    func surrogate(_ x: [Float], _ lo: Float, _ hi: Float) -> Double {
      zip(x, u).reduce(0.0) { $0 + Double(min(max($1.0, lo), hi)) * Double($1.1) }
    }
    let eps: Float = 1e-2
    let d = (0..<60).map { _ in Float.random(in: -1...1, using: &g) }
    let fdx = (surrogate(zip(x, d).map { $0 + eps * $1 }, lo, hi) - surrogate(zip(x, d).map { $0 - eps * $1 }, lo, hi)) / Double(2 * eps)
    let anx = zip(grads["x"]!, d).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    XCTAssertEqual(anx, fdx, accuracy: 1e-3 * max(1, abs(fdx)))
    let fdlo = (surrogate(x, lo + eps, hi) - surrogate(x, lo - eps, hi)) / Double(2 * eps)
    let fdhi = (surrogate(x, lo, hi + eps) - surrogate(x, lo, hi - eps)) / Double(2 * eps)
    XCTAssertEqual(Double(grads["lo"]![0]), fdlo, accuracy: 1e-3 * max(1, abs(fdlo)))
    XCTAssertEqual(Double(grads["hi"]![0]), fdhi, accuracy: 1e-3 * max(1, abs(fdhi)))
    XCTAssertNotEqual(fdlo, 0, "no value below lo: the test would not test dlo")
    XCTAssertNotEqual(fdhi, 0, "no value above hi: the test would not test dhi")
  }
}
