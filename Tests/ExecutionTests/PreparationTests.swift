import XCTest

@testable import Execution
@testable import GraphIR
@testable import TensorCore

final class PreparationTests: XCTestCase {
  func input(_ name: String, _ shape: [Int?]) -> ValueInfo { ValueInfo(name: name, dtype: .float32, shape: shape) }

  /// Folding BatchNormalization into the Conv before it changes no output beyond float rounding.
  func testBatchNormFoldingPreservesOutputs() throws {
    let conv = Node(name: "conv", opType: "Conv", inputs: ["x", "w", "b"], outputs: ["c"], attributes: ["pads": .ints([1, 1, 1, 1])])
    let bn = Node(name: "bn", opType: "BatchNormalization", inputs: ["c", "g", "beta", "mu", "var"], outputs: ["y"])
    var g = Graph(nodes: [conv, bn], inputs: [input("x", [nil, 3, 5, 5])], outputs: [input("y", [])], opset: 13)
    g.initializers = ["w": randomTensor([4, 3, 3, 3], seed: 1), "b": randomTensor([4], seed: 2),
                      "g": randomTensor([4], seed: 3), "beta": randomTensor([4], seed: 4), "mu": randomTensor([4], seed: 5),
                      "var": Tensor(shape: [4], floats: [0.5, 1, 2, 0.1])]
    let session = try Session(graph: g)
    XCTAssertEqual(session.graph.nodes.map(\.opType), ["Conv"])
    let x = randomTensor([2, 3, 5, 5], seed: 6)
    let folded = try session.run(["x": x])["y"]!
    // Reference: the same graph run op by op without preparation passes.
    let c = try GraphPreparation.evaluate(conv, [x, g.initializers["w"]!, g.initializers["b"]!], opset: 13)[0]
    let want = try GraphPreparation.evaluate(bn, [c] + ["g", "beta", "mu", "var"].map { g.initializers[$0]! }, opset: 13)[0]
    assertClose(folded.floats, want.floats, tolerance: 1e-5)
  }

  /// A Shape → Gather → Unsqueeze → Concat → Reshape chain folds into a constant shape once the
  /// input shape is bound, and the specialized graph still computes the same values.
  func testShapeSubgraphFoldsAfterSpecialization() throws {
    let nodes = [
      Node(name: "shape", opType: "Shape", inputs: ["x"], outputs: ["s"]),
      Node(name: "gather", opType: "Gather", inputs: ["s", "zero"], outputs: ["n"]),
      Node(name: "unsq", opType: "Unsqueeze", inputs: ["n", "axes"], outputs: ["n1"]),
      Node(name: "concat", opType: "Concat", inputs: ["n1", "minus1"], outputs: ["spec"], attributes: ["axis": .int(0)]),
      Node(name: "reshape", opType: "Reshape", inputs: ["x", "spec"], outputs: ["r"]),
      Node(name: "relu", opType: "Relu", inputs: ["r"], outputs: ["y"]),
    ]
    var g = Graph(nodes: nodes, inputs: [input("x", [nil, 2, 3])], outputs: [input("y", [])], opset: 13)
    g.initializers = ["zero": Tensor(shape: [], ints: [0]), "axes": Tensor(shape: [1], ints: [0]), "minus1": Tensor(shape: [1], ints: [-1])]
    let session = try Session(graph: g)
    let spec = try session.specializedGraph(for: ["x": [4, 2, 3]])
    XCTAssertEqual(spec.nodes.map(\.opType), ["Reshape", "Relu"])
    XCTAssertEqual(spec.initializers["spec"]?.ints, [4, -1])
    let x = randomTensor([4, 2, 3], seed: 7)
    let y = try session.run(["x": x])["y"]!
    XCTAssertEqual(y.shape, [4, 6])
    XCTAssertEqual(y.floats, x.floats.map { max($0, 0) })
  }

  func testBadFeedsAndUnsupportedOpsGiveClearErrors() throws {
    let g = Graph(nodes: [Node(name: "r", opType: "Relu", inputs: ["x"], outputs: ["y"])],
      inputs: [input("x", [nil, 3])], outputs: [input("y", [])], opset: 13)
    let session = try Session(graph: g)
    XCTAssertThrowsError(try session.run([:])) { XCTAssertTrue("\($0)".contains("missing model input 'x'"), "\($0)") }
    XCTAssertThrowsError(try session.run(["x": Tensor.zeros([2, 4])])) { XCTAssertTrue("\($0)".contains("dimension 1 must be 3"), "\($0)") }
    XCTAssertThrowsError(try session.run(["x": Tensor.zeros([2, 3, 1])])) { XCTAssertTrue("\($0)".contains("rank"), "\($0)") }
    XCTAssertThrowsError(try session.run(["x": Tensor.zeros([2, 3], dtype: .int64)])) { XCTAssertTrue("\($0)".contains("element type int64"), "\($0)") }
    let bad = Graph(nodes: [Node(name: "grid_0", opType: "GridSample", inputs: ["x", "x"], outputs: ["y"])],
      inputs: [input("x", [1, 3])], outputs: [input("y", [])], opset: 16)
    XCTAssertThrowsError(try Session(graph: bad)) {
      XCTAssertEqual("\($0)", "unsupported op 'GridSample' at node 'grid_0' (opset 16); supported ops: `mixprec inspect --ops`")
    }
  }

  func testEveryOpTheIssueNamesIsRegistered() {
    let required = """
      Add Sub Mul Div Pow Sqrt Exp Log Neg Abs Erf Tanh Sigmoid HardSigmoid HardSwish Relu LeakyRelu PRelu Clip Gelu
      Softmax LogSoftmax Conv ConvTranspose Gemm MatMul BatchNormalization LayerNormalization InstanceNormalization
      MaxPool AveragePool GlobalAveragePool GlobalMaxPool Resize Reshape Flatten Transpose Squeeze Unsqueeze Concat
      Split Slice Gather Expand Pad Tile Cast Where Equal Less Greater GreaterOrEqual And Not IsNaN ReduceMean
      ReduceSum ReduceMax ReduceL2 ArgMax Shape Constant ConstantOfShape Range Identity Dropout
      """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
    let missing = required.filter { OpRegistry.kernels[$0] == nil }
    XCTAssertEqual(missing, [])
  }
}

final class FusionTests: XCTestCase {
  func hardSwishGraph(divisor: Float) -> Graph {
    let nodes = [
      Node(name: "add", opType: "Add", inputs: ["x", "three"], outputs: ["a"]),
      Node(name: "clip", opType: "Clip", inputs: ["a", "zero", "six"], outputs: ["c"]),
      Node(name: "mul", opType: "Mul", inputs: ["x", "c"], outputs: ["m"]),
      Node(name: "div", opType: "Div", inputs: ["m", "d"], outputs: ["y"]),
    ]
    var g = Graph(nodes: nodes, inputs: [ValueInfo(name: "x", dtype: .float32, shape: [nil])],
      outputs: [ValueInfo(name: "y", dtype: .float32, shape: [nil])], opset: 13)
    g.initializers = ["three": Tensor(shape: [], floats: [3]), "zero": Tensor(shape: [], floats: [0]),
                      "six": Tensor(shape: [], floats: [6]), "d": Tensor(shape: [], floats: [divisor])]
    return g
  }

  /// x·clip(x+3, 0, 6)/6 becomes one HardSwish node with the same values.
  func testDecomposedHardSwishIsFused() throws {
    let session = try Session(graph: hardSwishGraph(divisor: 6))
    XCTAssertEqual(session.graph.nodes.map(\.opType), ["HardSwish"])
    let x = Tensor(shape: [9], floats: [-5, -3, -2.5, -1, 0, 0.5, 2.9, 3, 7])
    let y = try session.run(["x": x])["y"]!
    assertClose(y.floats, x.floats.map { $0 * min(max($0 + 3, 0), 6) / 6 }, tolerance: 1e-6)
  }

  func testOtherConstantsAreLeftAlone() throws {
    let session = try Session(graph: hardSwishGraph(divisor: 5))
    XCTAssertEqual(session.graph.nodes.map(\.opType), ["Add", "Clip", "Mul", "Div"])
  }
}

final class BatchingTests: XCTestCase {
  /// Slicing the batch and concatenating the outputs gives exactly the one-pass result.
  func testRunInBatchesEqualsOnePass() throws {
    let conv = Node(name: "conv", opType: "Conv", inputs: ["x", "w"], outputs: ["y"], attributes: ["pads": .ints([1, 1, 1, 1])])
    var g = Graph(nodes: [conv], inputs: [ValueInfo(name: "x", dtype: .float32, shape: [nil, 2, 4, 4])],
      outputs: [ValueInfo(name: "y", dtype: .float32, shape: [])], opset: 13)
    g.initializers["w"] = randomTensor([3, 2, 3, 3], seed: 1)
    let session = try Session(graph: g)
    let x = randomTensor([5, 2, 4, 4], seed: 2)
    let whole = try session.run(["x": x])["y"]!
    let sliced = try session.runInBatches(["x": x], batch: 2)["y"]!
    XCTAssertEqual(sliced.shape, whole.shape)
    XCTAssertEqual(sliced.floats, whole.floats)
  }
}

final class AffineFoldingTests: XCTestCase {
  /// Conv → Mul(scalar) → Add(per channel) folds into the Conv with unchanged outputs; a Mul by
  /// a tensor that is not per-channel stays.
  func testConstantAffineFoldsIntoConv() throws {
    let nodes = [
      Node(name: "conv", opType: "Conv", inputs: ["x", "w"], outputs: ["c"]),
      Node(name: "mul", opType: "Mul", inputs: ["s", "c"], outputs: ["m"]),
      Node(name: "add", opType: "Add", inputs: ["m", "d"], outputs: ["a"]),
      Node(name: "mul2", opType: "Mul", inputs: ["a", "e"], outputs: ["y"]),
    ]
    var g = Graph(nodes: nodes, inputs: [ValueInfo(name: "x", dtype: .float32, shape: [nil, 2, 4, 4])],
      outputs: [ValueInfo(name: "y", dtype: .float32, shape: [])], opset: 13)
    g.initializers = ["w": randomTensor([3, 2, 3, 3], seed: 1), "s": Tensor(shape: [1], floats: [1.5]),
                      "d": Tensor(shape: [1, 3, 1, 1], floats: [0.1, -0.2, 0.3]),
                      "e": randomTensor([1, 3, 2, 2], seed: 9)]
    let x = randomTensor([2, 2, 4, 4], seed: 2)
    let reference = try Interpreter(graph: g, fuseActivations: false).run(["x": x])["y"]!
    var folded = g
    XCTAssertEqual(folded.foldAffineIntoConv(), 2)
    XCTAssertEqual(folded.nodes.map(\.opType), ["Conv", "Mul"])
    XCTAssertNotNil(g.initializers["w"], "the original weight must stay untouched")
    assertClose(try Interpreter(graph: folded).run(["x": x])["y"]!.floats, reference.floats, tolerance: 1e-5)
  }
}
