import Execution
import Foundation
import GraphIR
import Quantizers
import TensorCore
import XCTest

/// Dynamic activation ranges: an integer layer quantizes its input with the minimum and maximum
/// of the values it reads in that run (DynamicQuantizeLinear), so it computes exactly what the
/// same layer computes with those parameters calibrated.
final class DynamicRangeTests: XCTestCase {
  /// x [N, 1, 6, 6] → Conv 3×3 (4 channels) → Relu → Flatten → MatMul [64, 5].
  static func model() -> Graph {
    var g = SeededGenerator(seed: 3)
    func t(_ shape: [Int], _ r: ClosedRange<Float>) -> Tensor { seededTensor(shape, r, using: &g) }
    return Graph(
      nodes: [
        Node(name: "conv", opType: "Conv", inputs: ["x", "wc", "bc"], outputs: ["c"], attributes: ["kernel_shape": .ints([3, 3])]),
        Node(name: "relu", opType: "Relu", inputs: ["c"], outputs: ["r"]),
        Node(name: "flat", opType: "Flatten", inputs: ["r"], outputs: ["f"]),
        Node(name: "fc", opType: "MatMul", inputs: ["f", "wf"], outputs: ["y"]),
      ],
      inputs: [ValueInfo(name: "x", dtype: .float32, shape: [nil, 1, 6, 6])],
      outputs: [ValueInfo(name: "y", dtype: .float32, shape: [nil, 5])],
      initializers: ["wc": t([4, 1, 3, 3], -1...1), "bc": t([4], -0.2...0.2), "wf": t([64, 5], -0.5...0.5)], opset: 13)
  }

  static func inputs(_ n: Int, spread: Float, seed: UInt64) -> [String: Tensor] {
    var g = SeededGenerator(seed: seed)
    return ["x": Tensor(shape: [n, 1, 6, 6], floats: (0..<(n * 36)).map { _ in Float.random(in: -spread...spread, using: &g) })]
  }

  func dynamicPlan(_ session: Session) throws -> PrecisionPlan {
    try PlanBuilder.uniform(session: session, calibrator: Calibrator(session: session), precision: .int8, method: .dynamic,
      model: "t", modelSHA256: "-")
  }

  func testDynamicPlansNeedNoCalibratedRanges() throws {
    let session = try Session(graph: Self.model())
    var plan = try dynamicPlan(session)
    XCTAssertEqual(plan.layers.map(\.rangeMethod), [.dynamic, .dynamic])
    XCTAssertEqual(plan.layers.map { $0.input == nil }, [true, true])
    XCTAssertNoThrow(try plan.validate())
    plan.layers[0].rangeMethod = .minmax
    XCTAssertThrowsError(try plan.validate(), "a calibrated integer layer without an input range")
  }

  /// Each layer's output equals the calibrated run of the same layer whose input parameters are
  /// DynamicQuantizeLinear's for the values it reads, bit for bit, and two batches of different
  /// spread get different grids.
  func testEachRunQuantizesWithItsOwnRange() throws {
    let graph = Self.model()
    let session = try Session(graph: graph)
    let plan = try dynamicPlan(session)
    let dynamic = try session.with(quantized: PlanBuilder.layerQuantizations(plan, session: session))
    for (spread, seed) in [(Float(1), UInt64(1)), (8, 2)] {
      let x = Self.inputs(3, spread: spread, seed: seed)
      // What each layer reads in the dynamic run.
      var read: [String: [Float]] = ["conv": x["x"]!.floats]
      let y = try dynamic.run(x) { node, outputs in if let i = node.outputs.firstIndex(of: "f") { read["fc"] = outputs[i].floats } }["y"]!.floats
      var fixed = plan
      for i in fixed.layers.indices {
        let v = try XCTUnwrap(read[fixed.layers[i].name])
        fixed.layers[i].rangeMethod = .minmax
        fixed.layers[i].input = ActivationParameters.dynamic(lo: v.min()!, hi: v.max()!)
      }
      let want = try session.with(quantized: PlanBuilder.layerQuantizations(fixed, session: session)).run(x)["y"]!.floats
      XCTAssertEqual(y, want, "spread \(spread)")
      XCTAssertNotEqual(y, try session.run(x)["y"]!.floats)
    }
  }

  /// DynamicQuantizeLinear's formula: scale = (max(hi, 0) − min(lo, 0)) / 255, zero = round(−lo / scale).
  func testDynamicParametersFollowTheONNXFormula() {
    let p = ActivationParameters.dynamic(lo: -1, hi: 3)
    XCTAssertEqual(p.scale, Float(4) / 255)
    XCTAssertEqual(p.zero, Int32((Float(1) / (Float(4) / 255)).rounded(.toNearestOrEven)))
    XCTAssertEqual(ActivationParameters.dynamic(lo: 0.5, hi: 2).zero, 0)  // 0 is always in the range
    XCTAssertEqual(ActivationParameters.dynamic(lo: -2, hi: -1).zero, 255)
    XCTAssertEqual(ActivationParameters.dynamic(lo: 0, hi: 0), ActivationParameters(scale: 1, zero: 0))
  }
}
