import Execution
import Foundation
import GraphIR
import MixPrec
import Quantizers
import TensorCore
import XCTest

/// Quantization-aware training on a tiny model strictly lowers the distillation loss of its PTQ
/// starting point, and hands back a plan the runtime runs.
final class QATTests: XCTestCase {
  static func random(_ shape: [Int], seed: UInt64, scale: Float = 0.5) -> Tensor {
    var g = SeededGenerator(seed: seed)
    return Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -scale...scale, using: &g) })
  }

  static func model() -> Graph {
    Graph(
      nodes: [
        Node(name: "c1", opType: "Conv", inputs: ["x", "w1", "b1"], outputs: ["a"], attributes: ["pads": .ints([1, 1, 1, 1])]),
        Node(name: "r1", opType: "Relu", inputs: ["a"], outputs: ["ar"], attributes: [:]),
        Node(name: "c2", opType: "Conv", inputs: ["ar", "w2", "b2"], outputs: ["b"], attributes: ["strides": .ints([2, 2])]),
        Node(name: "hs", opType: "HardSwish", inputs: ["b"], outputs: ["bh"], attributes: [:]),
        Node(name: "fl", opType: "Flatten", inputs: ["bh"], outputs: ["f"], attributes: [:]),
        Node(name: "fc", opType: "Gemm", inputs: ["f", "w3", "b3"], outputs: ["z"], attributes: ["transB": .int(1)]),
        Node(name: "sm", opType: "Softmax", inputs: ["z"], outputs: ["p"], attributes: ["axis": .int(-1)]),
      ],
      inputs: [ValueInfo(name: "x", dtype: .float32, shape: [nil, 3, 6, 6])], outputs: [ValueInfo(name: "p", dtype: .float32, shape: [nil, 6])],
      initializers: ["w1": random([8, 3, 3, 3], seed: 1), "b1": random([8], seed: 2), "w2": random([8, 8, 3, 3], seed: 3, scale: 0.3),
                     "b2": random([8], seed: 4), "w3": random([6, 32], seed: 5), "b3": random([6], seed: 6)],
      opset: 13)
  }

  /// The PTQ start: every layer INT4, min-max ranges calibrated on `x`.
  static func int4Plan(_ session: Session, _ x: [String: Tensor]) throws -> PrecisionPlan {
    var calibrator = Calibrator(session: session)
    try calibrator.observe(x)
    return try PlanBuilder.uniform(session: session, calibrator: calibrator, precision: .int4, method: .minmax, model: "", modelSHA256: "")
  }

  func testTrainingLowersTheLossOfTheINT4Start() throws {
    let session = try Session(graph: Self.model())
    let x = ["x": Self.random([64, 3, 6, 6], seed: 7, scale: 2)]
    let plan = try Self.int4Plan(session, x)
    let qat = try QuantizationAwareTraining(session: session, plan: plan)
    let before = try qat.loss(x, batch: 16)
    XCTAssertGreaterThan(before, 1e-4, "INT4 should damage this model")
    var options = QuantizationAwareTraining.Options()
    options.epochs = 20
    options.batch = 16
    let result = try qat.train(x, options: options)
    let after = try qat.loss(x, batch: 16)
    XCTAssertLessThan(after, 0.8 * before, "QAT: \(before) → \(after), per epoch \(result.epochLoss)")
    print("QAT tiny model: loss \(before) → \(after)")
    // The plan runs: learned codes within INT4, ranges containing 0, rounding marked.
    for l in result.plan.layers where l.precision == .int4 {
      XCTAssertEqual(l.rounding, .qat)
      let input = try XCTUnwrap(l.input)
      XCTAssertTrue((0...255).contains(input.zero))
      XCTAssertTrue(result.codes[l.name]!.allSatisfy { abs($0) <= 7 })
    }
    let mixed = try session.with(quantized: PlanBuilder.layerQuantizations(result.plan, session: session, codes: result.codes))
    let y = try mixed.run(x)["p"]!.floats, ref = try session.run(x)["p"]!.floats
    let before2 = try session.with(quantized: PlanBuilder.layerQuantizations(plan, session: session)).run(x)["p"]!.floats
    func kl(_ q: [Float]) -> Double {
      var s = 0.0
      for i in 0..<ref.count where ref[i] > 0 { s += Double(ref[i]) * log(Double(ref[i]) / max(Double(q[i]), 1e-30)) }
      return s / 64
    }
    XCTAssertLessThan(kl(y), kl(before2), "the integer kernels agree: the trained plan is closer to FP32")
  }

  /// Bias-less layers: a Conv without a bias input and a MatMul (its bias a separate Add).
  static func biasLessModel() -> Graph {
    Graph(
      nodes: [
        Node(name: "c1", opType: "Conv", inputs: ["x", "w1"], outputs: ["a"], attributes: ["pads": .ints([1, 1, 1, 1])]),
        Node(name: "r1", opType: "Relu", inputs: ["a"], outputs: ["ar"], attributes: [:]),
        Node(name: "fl", opType: "Flatten", inputs: ["ar"], outputs: ["f"], attributes: [:]),
        Node(name: "mm", opType: "MatMul", inputs: ["f", "w2"], outputs: ["m"], attributes: [:]),
        Node(name: "add", opType: "Add", inputs: ["m", "b2"], outputs: ["z"], attributes: [:]),
        Node(name: "sm", opType: "Softmax", inputs: ["z"], outputs: ["p"], attributes: ["axis": .int(-1)]),
      ],
      inputs: [ValueInfo(name: "x", dtype: .float32, shape: [nil, 2, 4, 4])], outputs: [ValueInfo(name: "p", dtype: .float32, shape: [nil, 5])],
      initializers: ["w1": random([6, 2, 3, 3], seed: 11), "w2": random([96, 5], seed: 12, scale: 0.3), "b2": random([5], seed: 13)],
      opset: 13)
  }

  /// What the training graph optimizes is what the integer runtime runs: after training (learned
  /// scales, biases of bias-less layers, ranges, codes) both give the same KL on the same samples.
  func testTrainedPlanRunsAsTrained() throws {
    let session = try Session(graph: Self.biasLessModel())
    let x = ["x": Self.random([48, 2, 4, 4], seed: 14, scale: 2)]
    let plan = try Self.int4Plan(session, x)
    let qat = try QuantizationAwareTraining(session: session, plan: plan)
    let before = try qat.loss(x, batch: 16)
    var options = QuantizationAwareTraining.Options()
    options.epochs = 15
    options.batch = 16
    options.scaleRate = 0.01
    options.biasRate = 0.01
    let result = try qat.train(x, options: options)
    let after = try qat.loss(x, batch: 16)
    XCTAssertLessThan(after, before, "QAT: \(before) → \(after)")
    for name in ["c1", "mm"] {
      let l = try XCTUnwrap(result.plan.layer(name))
      XCTAssertTrue(l.biasShift?.contains { $0 != 0 } ?? false, "\(name): the bias is trained")
      XCTAssertTrue(l.weightScaleFactors?.contains { $0 != 1 } ?? false, "\(name): the scales are trained")
    }
    let runtime = try PlanEvaluator(session: session, feeds: x, batch: 16, metric: nil).evaluate(result.plan, codes: result.codes).damage
    XCTAssertEqual(runtime, after, accuracy: 0.02 * after, "integer runtime KL \(runtime) vs training graph \(after)")
  }

  /// With labels: training on cross-entropy (here the FP32 model's own classes) lowers it.
  func testTaskLossTrainsOnLabels() throws {
    let session = try Session(graph: Self.model())
    let x = ["x": Self.random([64, 3, 6, 6], seed: 21, scale: 2)]
    let plan = try Self.int4Plan(session, x)
    let p = try session.run(x)["p"]!
    let ids = (0..<64).map { r in (0..<6).max { p.floats[r * 6 + $0] < p.floats[r * 6 + $1] }! }
    func crossEntropy(_ plan: PrecisionPlan, _ codes: [String: [Int8]]) throws -> Double {
      let q = try session.with(quantized: PlanBuilder.layerQuantizations(plan, session: session, codes: codes)).run(x)["p"]!.floats
      return (0..<64).reduce(0.0) { $0 - log(Double(max(q[$1 * 6 + ids[$1]], 1e-30))) } / 64
    }
    var options = QuantizationAwareTraining.Options()
    options.epochs = 20
    options.batch = 16
    options.loss = .task
    let qat = try QuantizationAwareTraining(session: session, plan: plan)
    XCTAssertThrowsError(try qat.train(x, options: options), "the task loss needs labels")
    let result = try qat.train(x, labels: .classes(ids), options: options)
    let before = try crossEntropy(plan, [:]), after = try crossEntropy(result.plan, result.codes)
    XCTAssertLessThan(after, before, "cross-entropy \(before) → \(after)")
  }
}
