import Execution
import Findings
import Foundation
import GraphIR
import Quantizers
import Sensitivity
import TensorCore
import XCTest

/// Output kinds: detected from FP32 values and the graph, measured by their own damage, summed
/// over several outputs; integer outputs carried, never compared.
final class OutputKindTests: XCTestCase {
  func testDetection() {
    let probs = Tensor(shape: [2, 3], floats: [0.7, 0.2, 0.1, 0.1, 0.1, 0.8])
    XCTAssertEqual(OutputKind.detect(probs, producer: "Softmax"), .probs)
    let map = Tensor(shape: [1, 1, 2, 3], floats: [0.1, 0.9, 0.5, 0.0, 1.0, 0.3])
    XCTAssertEqual(OutputKind.detect(map, producer: "Sigmoid"), .sigmoid)
    let scores = Tensor(shape: [2, 3], floats: [2, -1, 0.5, 3, 0, -2])
    XCTAssertEqual(OutputKind.detect(scores, producer: "Gemm"), .logits)
    XCTAssertEqual(OutputKind.detect(scores, producer: "LayerNormalization"), .embedding)
    XCTAssertEqual(OutputKind.detect(scores, producer: "ReduceMean"), .embedding)
    XCTAssertEqual(OutputKind.detect(scores, producer: "Conv"), .regression)
    // One column of values in [0, 1] is a sigmoid, not a distribution over one class.
    XCTAssertEqual(OutputKind.detect(Tensor(shape: [2, 1], floats: [1, 1]), producer: "Sigmoid"), .sigmoid)
  }

  func testEachKindsDamageOnKnownValues() {
    // Sigmoid: mean over elements of p log(p/q) + (1−p) log((1−p)/(1−q)).
    let p = Tensor(shape: [1, 2], floats: [0.8, 0.3]), q = Tensor(shape: [1, 2], floats: [0.6, 0.3])
    let bkl = 0.8 * log(0.8 / 0.6) + 0.2 * log(0.2 / 0.4)
    XCTAssertEqual(OutputComparison.of(q, reference: p, kind: .sigmoid).damage, bkl / 2, accuracy: 1e-6)
    XCTAssertEqual(OutputComparison.of(q, reference: p, kind: .sigmoid).agreement, 1)  // both sides of 0.5 kept
    // Embedding: mean over rows of 1 − cosine; a scaled row costs nothing.
    let e = Tensor(shape: [2, 2], floats: [1, 0, 0, 1]), f = Tensor(shape: [2, 2], floats: [2, 0, 1, 1])
    XCTAssertEqual(OutputComparison.of(f, reference: e, kind: .embedding).damage, (1 - 1 / 2.0.squareRoot()) / 2, accuracy: 1e-6)
    // Regression: Σ(y − ŷ)² / Σy², the inverse of the SQNR's ratio.
    let r = OutputComparison.of(f, reference: e, kind: .regression)
    XCTAssertEqual(r.damage, 2.0 / 2.0, accuracy: 1e-9)
    XCTAssertEqual(r.sqnr, -10 * log10(r.damage), accuracy: 1e-9)
    // Every kind is 0 on identical outputs.
    for kind in OutputKind.allCases { XCTAssertEqual(OutputComparison.of(e, reference: e, kind: kind).damage, 0, accuracy: 1e-12, "\(kind)") }
  }

  func testSeveralOutputsSumTheirDamages() throws {
    let outputs = [ComparedOutput(name: "a", kind: .embedding, detected: true), ComparedOutput(name: "b", kind: .regression, detected: false)]
    let e = Tensor(shape: [2, 2], floats: [1, 0, 0, 1]), f = Tensor(shape: [2, 2], floats: [2, 0, 1, 1])
    var sums = OutputComparison.Outputs(outputs)
    try sums.add(["a": f, "b": f], reference: ["a": e, "b": e])
    let each = sums.damages
    XCTAssertEqual(sums.result.damage, each["a"]! + each["b"]!, accuracy: 1e-12)
    XCTAssertEqual(each["a"]!, OutputComparison.of(f, reference: e, kind: .embedding).damage, accuracy: 1e-12)
    XCTAssertThrowsError(try sums.add(["a": f], reference: ["a": e, "b": e]))
  }

  /// A Conv → Sigmoid map next to an int64 ArgMax output and a pooled embedding: the sweep
  /// compares both float outputs with their own kinds and carries the integer one.
  static func threeOutputModel() -> Graph {
    var g = SeededGenerator(seed: 5)
    func t(_ shape: [Int]) -> Tensor { Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -0.5...0.5, using: &g) }) }
    return Graph(
      nodes: [
        Node(name: "conv1", opType: "Conv", inputs: ["x", "w1", "b1"], outputs: ["c1"], attributes: ["pads": .ints([1, 1, 1, 1])]),
        Node(name: "relu", opType: "Relu", inputs: ["c1"], outputs: ["r1"]),
        Node(name: "head", opType: "Conv", inputs: ["r1", "w2", "b2"], outputs: ["h"]),
        Node(name: "sig", opType: "Sigmoid", inputs: ["h"], outputs: ["map"]),
        Node(name: "pool", opType: "ReduceMean", inputs: ["r1"], outputs: ["pooled"], attributes: ["axes": .ints([2, 3]), "keepdims": .int(0)]),
        Node(name: "ids", opType: "ArgMax", inputs: ["pooled"], outputs: ["best"], attributes: ["axis": .int(-1), "keepdims": .int(0)]),
      ],
      inputs: [ValueInfo(name: "x", dtype: .float32, shape: [nil, 3, 6, 6])],
      outputs: [ValueInfo(name: "best", dtype: .int64, shape: [nil]), ValueInfo(name: "map", dtype: .float32, shape: [nil, 1, 6, 6]),
                ValueInfo(name: "pooled", dtype: .float32, shape: [nil, 8])],
      initializers: ["w1": t([8, 3, 3, 3]), "b1": t([8]), "w2": t([1, 8, 1, 1]), "b2": t([1])], opset: 13)
  }

  func testTheSweepComparesEveryFloatOutputWithItsKind() throws {
    let session = try Session(graph: Self.threeOutputModel())
    var g = SeededGenerator(seed: 3)
    let x = ["x": Tensor(shape: [16, 3, 6, 6], floats: (0..<(16 * 108)).map { _ in Float.random(in: -1...1, using: &g) })]
    var calibrator = Calibrator(session: session)
    try calibrator.observe(x)
    let swept = try SensitivitySweep(candidates: [.int8, .int4]).run(session: session, calibrator: calibrator, feeds: x)
    XCTAssertEqual(swept.outputs, [ComparedOutput(name: "map", kind: .sigmoid, detected: true),
                                   ComparedOutput(name: "pooled", kind: .embedding, detected: true)])
    XCTAssertEqual(swept.layers.map(\.name), ["conv1", "head"])
    for l in swept.layers { XCTAssertGreaterThan(l.sensitivity["int4"]!.damage, l.sensitivity["int8"]!.damage, l.name) }

    // Only the map: the head's damage is the map's alone; conv1 feeds both outputs so it costs more with both.
    var one = SensitivitySweep(candidates: [.int4])
    one.outputs = OutputSelection(names: ["map"], kinds: ["map": .regression])
    let mapOnly = try one.run(session: session, calibrator: calibrator, feeds: x)
    XCTAssertEqual(mapOnly.outputs, [ComparedOutput(name: "map", kind: .regression, detected: false)])
    let both = swept.layers.first { $0.name == "head" }!.sensitivity["int4"]!.damage
    var sigmoidOnly = SensitivitySweep(candidates: [.int4])
    sigmoidOnly.outputs = OutputSelection(names: ["map"])
    let head = try sigmoidOnly.run(session: session, calibrator: calibrator, feeds: x).layers.first { $0.name == "head" }!
    XCTAssertEqual(head.sensitivity["int4"]!.damage, both, accuracy: 1e-12 + both * 1e-9)  // the head does not touch the embedding
  }

  func testSelectionMistakesAreNamed() throws {
    let graph = Self.threeOutputModel()
    XCTAssertEqual(try OutputSelection().outputNames(in: graph), ["map", "pooled"])
    func message(_ s: OutputSelection) -> String {
      do { _ = try s.outputNames(in: graph); return "" } catch { return "\(error)" }
    }
    XCTAssertTrue(message(OutputSelection(names: ["nope"])).contains("is not an output"))
    XCTAssertTrue(message(OutputSelection(names: ["best"])).contains("not floating-point"))
    XCTAssertTrue(message(OutputSelection(names: ["map"], kinds: ["pooled": .embedding])).contains("not a compared output"))
    XCTAssertTrue(message(OutputSelection(names: ["map", "map"])).contains("twice"))
  }
}
