import GraphIR
import TensorCore
import XCTest

@testable import Execution

/// A declared batch of 1 becomes dynamic only when every sample stays separate, and the relaxed
/// graph gives each sample of a batch what it gives that sample alone.
final class BatchRelaxationTests: XCTestCase {
  /// Conv → Relu → `tail` → Gemm(5) → Softmax(axis) on a 1×3×6×6 input.
  func graph(tail: [Node] = [Node(name: "flat", opType: "Flatten", inputs: ["r"], outputs: ["f"], attributes: [:])],
             extra: [String: Tensor] = [:], softmaxAxis: Int = -1) -> Graph {
    var g = SeededGenerator(seed: 9)
    func t(_ s: [Int]) -> Tensor { Tensor(shape: s, floats: (0..<s.reduce(1, *)).map { _ in Float.random(in: -0.5...0.5, using: &g) }) }
    return Graph(
      nodes: [Node(name: "conv", opType: "Conv", inputs: ["x", "w1", "b1"], outputs: ["c"], attributes: [:]),
        Node(name: "relu", opType: "Relu", inputs: ["c"], outputs: ["r"], attributes: [:])] + tail + [
        Node(name: "fc", opType: "Gemm", inputs: ["f", "w2", "b2"], outputs: ["z"], attributes: ["transB": .int(1)]),
        Node(name: "sm", opType: "Softmax", inputs: ["z"], outputs: ["p"], attributes: ["axis": .int(softmaxAxis)]),
      ],
      inputs: [ValueInfo(name: "x", dtype: .float32, shape: [1, 3, 6, 6])],
      outputs: [ValueInfo(name: "p", dtype: .float32, shape: [1, 5])],
      initializers: ["w1": t([4, 3, 3, 3]), "b1": t([4]), "w2": t([5, 64]), "b2": t([5])].merging(extra) { a, _ in a },
      opset: 13)
  }

  func testAGraphThatKeepsSamplesApartIsRelaxedAndRunsEachSampleAsAlone() throws {
    // A Reshape to a hard-coded [1, 64] (as exporters write) too: it learns to copy the batch.
    let flat = graph(tail: [Node(name: "rs", opType: "Reshape", inputs: ["r", "s"], outputs: ["f"], attributes: [:])],
      extra: ["s": Tensor(dtype: .int64, shape: [2], storage: .int([1, 64]))])
    for given in [graph(), flat] { try checkRelaxed(given) }
  }

  func checkRelaxed(_ given: Graph) throws {
    let (open, relaxed) = GraphPreparation.relaxingFixedBatch(try GraphPreparation.canonicalize(given))
    XCTAssertEqual(relaxed, ["x"])
    XCTAssertEqual(open.inputs[0].shape, [nil, 3, 6, 6])
    var rng = SeededGenerator(seed: 3)
    let x = Tensor(shape: [3, 3, 6, 6], floats: (0..<324).map { _ in Float.random(in: -1...1, using: &rng) })
    let batched = try Session(graph: open).run(["x": x])["p"]!
    let alone = try Session(graph: given)
    for i in 0..<3 {
      let one = try alone.run(["x": x.rows(i..<(i + 1))])["p"]!
      XCTAssertEqual(batched.rows(i..<(i + 1)).floats, one.floats, "sample \(i)")
    }
  }

  func testGraphsThatDependOnTheBatchKeepIt() throws {
    // The 1×4×4×4 activation reshaped to a hard-coded [4, 16] (the samples' channels on axis 0)
    // and back to [1, 64]: batch 2 cannot run it.
    let reshape = graph(tail: [
      Node(name: "rs1", opType: "Reshape", inputs: ["r", "s1"], outputs: ["t"], attributes: [:]),
      Node(name: "rs2", opType: "Reshape", inputs: ["t", "s2"], outputs: ["f"], attributes: [:]),
    ], extra: ["s1": Tensor(dtype: .int64, shape: [2], storage: .int([4, 16])),
               "s2": Tensor(dtype: .int64, shape: [2], storage: .int([1, 64]))])
    // A softmax across the samples.
    let acrossSamples = graph(softmaxAxis: 0)
    // A mean over every axis, broadcast back: the samples mix though every shape is unchanged.
    let mean = graph(tail: [
      Node(name: "m", opType: "ReduceMean", inputs: ["r"], outputs: ["mu"], attributes: ["keepdims": .int(1)]),
      Node(name: "sub", opType: "Sub", inputs: ["r", "mu"], outputs: ["d"], attributes: [:]),
      Node(name: "flat", opType: "Flatten", inputs: ["d"], outputs: ["f"], attributes: [:]),
    ])
    for (label, g) in [("reshape", reshape), ("softmax axis 0", acrossSamples), ("mean", mean)] {
      let (kept, relaxed) = GraphPreparation.relaxingFixedBatch(try GraphPreparation.canonicalize(g))
      XCTAssertEqual(relaxed, [], label)
      XCTAssertEqual(kept.inputs[0].shape, [1, 3, 6, 6], label)
    }
  }
}
