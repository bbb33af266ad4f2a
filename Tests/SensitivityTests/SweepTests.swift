import Findings
import Execution
import Foundation
import GraphIR
import Quantizers
import Sensitivity
import TensorCore
import XCTest

/// Output comparisons on known vectors, and the one-layer-at-a-time sweep on a tiny model.
final class SweepTests: XCTestCase {
  func testComparisonOfKnownOutputs() {
    let ref = Tensor(shape: [2, 3], floats: [0.7, 0.2, 0.1, 0.1, 0.1, 0.8])
    let same = OutputComparison.of(ref, reference: ref, kind: .probs)
    XCTAssertEqual(same.damage, 0, accuracy: 1e-12)
    XCTAssertEqual(same.sqnr, .infinity)
    XCTAssertEqual(same.cosine, 1, accuracy: 1e-12)
    XCTAssertEqual(same.agreement, 1)
    // Second row's winner flips: agreement 1/2; KL of row 2 = Σ p log(p/q).
    let moved = Tensor(shape: [2, 3], floats: [0.7, 0.2, 0.1, 0.1, 0.8, 0.1])
    let m = OutputComparison.of(moved, reference: ref, kind: .probs)
    XCTAssertEqual(m.agreement, 0.5)
    let kl2 = 0.1 * log(0.1 / 0.1) + 0.1 * log(0.1 / 0.8) + 0.8 * log(0.8 / 0.1)
    XCTAssertEqual(m.damage, kl2 / 2, accuracy: 1e-6)
    // SQNR: Σy² = 1.20, Σ(y−ŷ)² = 0.98 → 10·log10(1.20/0.98).
    XCTAssertEqual(m.sqnr, 10 * log10(1.20 / 0.98), accuracy: 1e-4)
  }

  /// Logits are compared through their softmax.
  func testLogitsGoThroughSoftmax() {
    let logits = Tensor(shape: [1, 2], floats: [2, 0]), shifted = Tensor(shape: [1, 2], floats: [3, 1])
    XCTAssertEqual(OutputComparison.of(shifted, reference: logits).damage, 0, accuracy: 1e-9)  // softmax is shift-invariant
  }

  static func tinyModel() -> Graph {
    var g = SeededGenerator(seed: 17)
    func t(_ shape: [Int]) -> Tensor { Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -0.5...0.5, using: &g) }) }
    return Graph(
      nodes: [
        Node(name: "conv1", opType: "Conv", inputs: ["x", "w1", "b1"], outputs: ["c1"], attributes: ["pads": .ints([1, 1, 1, 1])]),
        Node(name: "relu", opType: "Relu", inputs: ["c1"], outputs: ["r1"], attributes: [:]),
        Node(name: "conv2", opType: "Conv", inputs: ["r1", "w2", "b2"], outputs: ["c2"], attributes: [:]),
        Node(name: "flat", opType: "Flatten", inputs: ["c2"], outputs: ["f"], attributes: [:]),
        Node(name: "fc", opType: "Gemm", inputs: ["f", "w3", "b3"], outputs: ["y"], attributes: ["transB": .int(1)]),
      ],
      inputs: [ValueInfo(name: "x", dtype: .float32, shape: [nil, 3, 6, 6])], outputs: [ValueInfo(name: "y", dtype: .float32, shape: [nil, 5])],
      initializers: ["w1": t([8, 3, 3, 3]), "b1": t([8]), "w2": t([4, 8, 1, 1]), "b2": t([4]), "w3": t([5, 144]), "b3": t([5])], opset: 13)
  }

  func testEveryLayerAndCandidateIsMeasuredAndFP16DamagesLeast() throws {
    let session = try Session(graph: Self.tinyModel())
    var g = SeededGenerator(seed: 3)
    let x = ["x": Tensor(shape: [32, 3, 6, 6], floats: (0..<(32 * 108)).map { _ in Float.random(in: -1...1, using: &g) })]
    var calibrator = Calibrator(session: session)
    try calibrator.observe(x)
    let layers = try SensitivitySweep(candidates: [.fp16, .int8, .int4]).run(session: session, calibrator: calibrator, feeds: x).layers
    XCTAssertEqual(layers.map(\.name), ["conv1", "conv2", "fc"])
    XCTAssertEqual(layers.map(\.index), [0, 1, 2])
    for l in layers {
      let s = l.sensitivity
      XCTAssertEqual(Set(s.keys), ["fp16", "int8", "int4"])
      XCTAssertGreaterThan(s["fp16"]!.sqnr, s["int8"]!.sqnr, l.name)
      XCTAssertGreaterThan(s["int8"]!.sqnr, s["int4"]!.sqnr, l.name)
      XCTAssertGreaterThan(s["int4"]!.damage, 0, l.name)
    }
  }

  func testShardsMergeBackInModelOrder() throws {
    func layer(_ i: Int) -> AnalysisResult.Layer { AnalysisResult.Layer(index: i, name: "l\(i)", op: "Conv", params: 1) }
    var a = AnalysisResult(model: "m", modelSHA256: "s", candidates: ["int8"], samples: 4, layers: [layer(0), layer(2)])
    a.shard = "1/2"
    var b = AnalysisResult(model: "m", modelSHA256: "s", candidates: ["int8"], samples: 4, layers: [layer(1), layer(3)])
    b.shard = "2/2"
    let merged = try AnalysisResult.merge([a, b])
    XCTAssertEqual(merged.layers.map(\.name), ["l0", "l1", "l2", "l3"])
    XCTAssertNil(merged.shard)
    var other = AnalysisResult(model: "n", modelSHA256: "t", candidates: ["int8"], samples: 4, layers: [])
    other.shard = "2/2"
    XCTAssertThrowsError(try AnalysisResult.merge([a, other]))
    // Every shard once: an incomplete or repeated set, another split or a whole analysis is refused.
    XCTAssertThrowsError(try AnalysisResult.merge([a])) { XCTAssertEqual($0 as? AnalysisError, .missingShards([2], of: 2)) }
    XCTAssertThrowsError(try AnalysisResult.merge([a, a])) { XCTAssertEqual($0 as? AnalysisError, .duplicateShard("1/2")) }
    var third = b
    third.shard = "2/3"
    XCTAssertThrowsError(try AnalysisResult.merge([a, third])) { XCTAssertEqual($0 as? AnalysisError, .mixedSplits("1/2", "2/3")) }
    var whole = b
    whole.shard = nil
    XCTAssertThrowsError(try AnalysisResult.merge([a, whole])) { XCTAssertEqual($0 as? AnalysisError, .notAShard(model: "m")) }
    var fewer = b
    fewer.samples = 3
    XCTAssertThrowsError(try AnalysisResult.merge([a, fewer]))
  }
}

/// The sweep's shortcut: a run resumed at a quantized layer from the FP32 values before it equals
/// the whole quantized run, bit for bit.
final class ResumedRunTests: XCTestCase {
  func testResumedRunEqualsWholeRun() throws {
    let graph = SweepTests.tinyModel()
    let session = try Session(graph: graph)
    var g = SeededGenerator(seed: 5)
    let x = ["x": Tensor(shape: [4, 3, 6, 6], floats: (0..<(4 * 108)).map { _ in Float.random(in: -1...1, using: &g) })]
    var calibrator = Calibrator(session: session)
    try calibrator.observe(x)
    var plan = try PlanBuilder.uniform(session: session, calibrator: calibrator, precision: .int8, model: "", modelSHA256: "")
    for i in plan.layers.indices where plan.layers[i].name != "conv2" { plan.layers[i].precision = .fp32 }
    let mixed = try session.with(quantized: PlanBuilder.layerQuantizations(plan, session: session))
    let known = try session.recordingRun(x)
    let whole = try mixed.run(x)["y"]!.floats
    let resumed = try mixed.run(x, resumingAt: "conv2", from: known)["y"]!.floats
    XCTAssertEqual(whole, resumed)
    XCTAssertNotEqual(whole, try session.run(x)["y"]!.floats)  // the layer really is quantized
    XCTAssertThrowsError(try mixed.run(x, resumingAt: "nope", from: known))
  }
}
