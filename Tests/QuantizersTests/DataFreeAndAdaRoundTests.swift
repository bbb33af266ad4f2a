import Execution
import Foundation
import GraphIR
import Quantizers
import TensorCore
import XCTest

/// Cross-layer equalization and AdaRound on the tiny model of MixedRuntimeTests.
final class DataFreeAndAdaRoundTests: XCTestCase {
  /// Equalization only rescales: outputs agree to float32 rounding of the rescaled products.
  static let equalizationTolerance: Float = 1e-4

  func testEqualizationKeepsTheFunctionAndEqualizesRanges() throws {
    var graph = tinyModel()
    // Make conv1's output channels very unequal, as BatchNorm folding often leaves them.
    var w1 = graph.initializers["w1"]!.floats
    for o in 0..<8 { for j in 0..<27 { w1[o * 27 + j] *= Float(1 << (o % 4)) * 3 } }
    graph.initializers["w1"] = Tensor(shape: [8, 3, 3, 3], floats: w1)
    let before = try Session(graph: graph)
    let (equalized, pairs) = Equalization.apply(before.graph)
    XCTAssertEqual(pairs, [["conv1", "conv2"]], "conv1 → relu → conv2 is the one pair")
    let after = try Session(graph: equalized)
    let x = tinyInput(4, seed: 9)
    let a = try XCTUnwrap(before.run(x)["y"]).floats, b = try XCTUnwrap(after.run(x)["y"]).floats
    for (u, v) in zip(a, b) { XCTAssertEqual(u, v, accuracy: Self.equalizationTolerance * max(1, abs(u))) }
    // Each channel's range in conv1 now equals its range in conv2.
    let e1 = equalized.initializers["w1"]!.floats, e2 = equalized.initializers["w2"]!.floats
    for i in 0..<8 {
      let r1 = (0..<27).map { abs(e1[i * 27 + $0]) }.max()!
      let r2 = (0..<4).map { abs(e2[$0 * 8 + i]) }.max()!
      XCTAssertEqual(r1, r2, accuracy: 1e-5 * max(r1, r2), "channel \(i)")
    }
  }

  /// AdaRound never reconstructs worse than nearest rounding, and on a layer with correlated
  /// inputs it does strictly better.
  func testAdaRoundBeatsNearestOnTheReconstructionError() {
    var g = SeededGenerator(seed: 31)
    let n = 6, k = 24, samples = 400
    let w = (0..<(n * k)).map { _ in Float.random(in: -1...1, using: &g) }
    // Correlated inputs: a few latent factors mixed into k features.
    let factors = (0..<(4 * k)).map { _ in Float.random(in: -1...1, using: &g) }
    var gram = [Float](repeating: 0, count: k * k)
    for _ in 0..<samples {
      let z = (0..<4).map { _ in Float.random(in: -1...1, using: &g) }
      let x = (0..<k).map { c in (0..<4).reduce(Float(0)) { $0 + z[$1] * factors[$1 * k + c] } + Float.random(in: -0.05...0.05, using: &g) }
      for i in 0..<k { for j in 0..<k { gram[i * k + j] += x[i] * x[j] } }
    }
    for bits in [4, 8] {
      let scales = WeightQuantizer.quantize(w, n: n, k: k, bits: bits).scales
      let r = AdaRound.codes(rows: w, n: n, k: k, bits: bits, scales: scales, group: nil, gram: gram)
      XCTAssertLessThanOrEqual(r.error, r.nearestError, "int\(bits)")
      if bits == 4 { XCTAssertLessThan(r.error, 0.9 * r.nearestError, "int4: AdaRound \(r.error) vs nearest \(r.nearestError)") }
      let qmax = Int8(WeightQuantizer.maxCode(bits: bits))
      XCTAssertTrue(r.codes.allSatisfy { abs($0) <= qmax })
      // Every code is the floor or the ceiling of w/s: AdaRound only chooses the direction.
      for i in 0..<(n * k) {
        let x = w[i] / scales[i / k]
        XCTAssertTrue(Float(r.codes[i]) == x.rounded(.down) || Float(r.codes[i]) == x.rounded(.up) || abs(r.codes[i]) == qmax, "w/s = \(x), code \(r.codes[i])")
      }
    }
  }

  /// On the tiny model: the plan's AdaRound layers reconstruct no worse than nearest, per layer.
  func testAdaRoundOnEveryLayerOfAModel() throws {
    let session = try Session(graph: tinyModel())
    var calibrator = Calibrator(session: session)
    try calibrator.observe(tinyInput(32, seed: 3), grams: true)
    var plan = try PlanBuilder.uniform(session: session, calibrator: calibrator, precision: .int4, model: "tiny", modelSHA256: "-")
    var options = AdaRound.Options()
    options.iterations = 200
    let (codes, errors) = try PlanBuilder.adaRound(&plan, session: session, calibrator: calibrator, options: options)
    XCTAssertEqual(Set(codes.keys), ["conv1", "conv2", "fc", "head"])
    for (layer, e) in errors { XCTAssertLessThanOrEqual(e.ada, e.nearest, layer) }
    XCTAssertTrue(plan.layers.allSatisfy { $0.rounding == .adaround })
    XCTAssertNoThrow(try PlanBuilder.layerQuantizations(plan, session: session, codes: codes))
    XCTAssertThrowsError(try PlanBuilder.layerQuantizations(plan, session: session))  // codes missing
  }
}

/// Empirical bias correction removes the mean output shift weight quantization causes.
final class BiasCorrectionTests: XCTestCase {
  func testBiasCorrectionReducesTheMeanOutputShift() throws {
    var g = SeededGenerator(seed: 5)
    let w = Tensor(shape: [8, 3, 3, 3], floats: (0..<216).map { _ in Float.random(in: -0.5...0.5, using: &g) })
    let graph = Graph(
      nodes: [Node(name: "conv", opType: "Conv", inputs: ["x", "w"], outputs: ["y"], attributes: ["pads": .ints([1, 1, 1, 1])])],
      inputs: [ValueInfo(name: "x", dtype: .float32, shape: [nil, 3, 6, 6])],
      outputs: [ValueInfo(name: "y", dtype: .float32, shape: [nil, 8, 6, 6])], initializers: ["w": w], opset: 13)
    let session = try Session(graph: graph)
    // Inputs with a large positive mean: a weight error then shifts every output the same way.
    let x = ["x": Tensor(shape: [32, 3, 6, 6], floats: (0..<(32 * 108)).map { _ in Float.random(in: 0.5...2, using: &g) })]
    var calibrator = Calibrator(session: session)
    try calibrator.observe(x, grams: true)
    var plan = try PlanBuilder.uniform(session: session, calibrator: calibrator, precision: .int4, model: "c", modelSHA256: "-")
    let reference = try XCTUnwrap(session.run(x)["y"]).floats
    func meanShift(_ p: PrecisionPlan) throws -> Float {
      let y = try XCTUnwrap(session.with(quantized: PlanBuilder.layerQuantizations(p, session: session)).run(x)["y"]).floats
      var perChannel = [Float](repeating: 0, count: 8)
      for i in y.indices { perChannel[(i / 36) % 8] += (y[i] - reference[i]) / Float(32 * 36) }
      return perChannel.map { $0 * $0 }.reduce(0, +).squareRoot()
    }
    let before = try meanShift(plan)
    try PlanBuilder.correctBiases(&plan, session: session, calibrator: calibrator)
    XCTAssertEqual(plan.layers[0].biasShift?.count, 8)
    let after = try meanShift(plan)
    XCTAssertLessThan(after, 0.5 * before, "mean output shift per channel: \(before) → \(after)")
  }
}

/// Bias absorption after equalization: Conv₁'s always-positive offsets move into Conv₂'s bias.
final class BiasAbsorptionTests: XCTestCase {
  func testAbsorptionShrinksTheFirstBiasAndKeepsTheFunction() throws {
    var g = SeededGenerator(seed: 8)
    func t(_ shape: [Int], _ r: ClosedRange<Float>) -> Tensor {
      Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in Float.random(in: r, using: &g) })
    }
    // Small weights and large positive biases: conv1's outputs never fall below ~2.
    let graph = Graph(
      nodes: [
        Node(name: "c1", opType: "Conv", inputs: ["x", "w1", "b1"], outputs: ["h"], attributes: ["pads": .ints([1, 1, 1, 1])]),
        Node(name: "r", opType: "Relu", inputs: ["h"], outputs: ["hr"], attributes: [:]),
        Node(name: "c2", opType: "Conv", inputs: ["hr", "w2", "b2"], outputs: ["y"], attributes: [:]),
      ],
      inputs: [ValueInfo(name: "x", dtype: .float32, shape: [nil, 2, 5, 5])],
      outputs: [ValueInfo(name: "y", dtype: .float32, shape: [nil, 3, 5, 5])],
      initializers: ["w1": t([4, 2, 3, 3], -0.05...0.05), "b1": t([4], 3...5), "w2": t([3, 4, 1, 1], -1...1), "b2": t([3], -1...1)],
      opset: 13)
    let x = ["x": t([8, 2, 5, 5], -1...1)]
    let absorbed = try BiasAbsorption.measure(graph, pairs: [["c1", "c2"]], feeds: x)
    XCTAssertEqual(absorbed.count, 1)
    XCTAssertTrue(absorbed[0].shift.allSatisfy { $0 > 1 }, "\(absorbed[0].shift)")
    let after = BiasAbsorption.apply(graph, absorbed)
    let b1 = after.initializers["b1"]!.floats, b1Before = graph.initializers["b1"]!.floats
    for i in 0..<4 { XCTAssertLessThan(abs(b1[i]), abs(b1Before[i])) }
    // Conv₂ is 1×1 (no padding): the function is unchanged on data that respects the minima.
    let a = try XCTUnwrap(Session(graph: graph).run(x)["y"]).floats, b = try XCTUnwrap(Session(graph: after).run(x)["y"]).floats
    for (u, v) in zip(a, b) { XCTAssertEqual(u, v, accuracy: 1e-4 * max(1, abs(u))) }
  }
}

/// Which activations between two convolutions equalization may cross.
final class EqualizationPairTests: XCTestCase {
  func graph(clipMax: Float?) -> Graph {
    var g = tinyModel()
    var inputs = ["c1", "clip_min"]
    g.initializers["clip_min"] = Tensor(shape: [], floats: [0])
    if let clipMax {
      g.initializers["clip_max"] = Tensor(shape: [], floats: [clipMax])
      inputs.append("clip_max")
    }
    g.nodes[1] = Node(name: "clip", opType: "Clip", inputs: inputs, outputs: ["r1"], attributes: [:])
    return g
  }

  func testClipWithoutAnUpperBoundIsCrossedAndReLU6IsNot() {
    XCTAssertEqual(Equalization.pairs(in: graph(clipMax: nil)).count, 1)
    XCTAssertEqual(Equalization.pairs(in: graph(clipMax: .infinity)).count, 1)
    XCTAssertEqual(Equalization.pairs(in: graph(clipMax: 6)).count, 0, "scaling would move a ReLU6's bound per channel")
  }
}

/// A nearly dead channel (denormal weights) once made sᵢ underflow to 0 and the weights infinite.
final class EqualizationUnderflowTests: XCTestCase {
  func testNearlyDeadChannelsStayFinite() throws {
    var graph = tinyModel()
    var w1 = graph.initializers["w1"]!.floats
    for j in 0..<27 { w1[j] *= 1e-44 }  // denormal weights …
    graph.initializers["w1"] = Tensor(shape: [8, 3, 3, 3], floats: w1)
    var w2 = graph.initializers["w2"]!.floats
    for o in 0..<4 { w2[o * 8] *= 0.01 }  // … and a small reader: r₁·r₂ underflows to 0
    graph.initializers["w2"] = Tensor(shape: [4, 8, 1, 1], floats: w2)
    let (g, _) = Equalization.apply(graph)
    XCTAssertTrue(g.initializers["w1"]!.floats.allSatisfy(\.isFinite))
    XCTAssertTrue(g.initializers["w2"]!.floats.allSatisfy(\.isFinite))
    let x = tinyInput(4, seed: 1)
    let a = try XCTUnwrap(Session(graph: graph).run(x)["y"]).floats, b = try XCTUnwrap(Session(graph: g).run(x)["y"]).floats
    for (u, v) in zip(a, b) { XCTAssertEqual(u, v, accuracy: 1e-4 * max(1, abs(u))) }
  }
}
