import XCTest

@testable import GraphIR
@testable import TensorCore

final class PassTests: XCTestCase {
  func node(_ op: String, _ ins: [String], _ outs: [String], _ attrs: [String: Attribute] = [:]) -> Node {
    Node(name: outs[0] + "_node", opType: op, inputs: ins, outputs: outs, attributes: attrs)
  }

  func graph(_ nodes: [Node], outputs: [String] = ["y"]) -> Graph {
    Graph(nodes: nodes, inputs: [ValueInfo(name: "x", dtype: .float32, shape: [1, 4])],
      outputs: outputs.map { ValueInfo(name: $0, dtype: .float32, shape: [nil]) })
  }

  /// Nodes come out after their producers, keeping file order where it is free.
  func testTopologicalSortRestoresOrder() throws {
    var g = graph([node("Relu", ["b"], ["y"]), node("Neg", ["a"], ["b"]), node("Abs", ["x"], ["a"])])
    try g.sortTopologically()
    XCTAssertEqual(g.nodes.map(\.opType), ["Abs", "Neg", "Relu"])
  }

  func testCycleIsAnError() {
    var g = graph([node("Relu", ["b"], ["a"]), node("Neg", ["a"], ["b"]), node("Abs", ["b"], ["y"])])
    XCTAssertThrowsError(try g.sortTopologically()) { XCTAssertTrue("\($0)".contains("cycle"), "\($0)") }
  }

  func testConstantsBecomeInitializers() throws {
    var g = graph([
      node("Constant", [], ["c1"], ["value": .tensor(Tensor(shape: [2], floats: [1, 2]))]),
      node("Constant", [], ["c2"], ["value_ints": .ints([3, 4])]),
      node("Constant", [], ["c3"], ["value_float": .float(0.5)]),
      node("Add", ["x", "c1"], ["y"]),
    ])
    try g.hoistConstants()
    XCTAssertEqual(g.nodes.map(\.opType), ["Add"])
    XCTAssertEqual(g.initializers["c1"]?.floats, [1, 2])
    XCTAssertEqual(g.initializers["c2"]?.ints, [3, 4])
    XCTAssertEqual(g.initializers["c3"]?.shape, [])
    var bad = graph([node("Constant", [], ["y"], ["sparse_value": .int(1)])])
    XCTAssertThrowsError(try bad.hoistConstants())
  }

  /// Identity/Dropout vanish and readers are rewired; an Identity feeding a graph output stays.
  func testIdentityRemoval() {
    var g = graph([node("Identity", ["x"], ["a"]), node("Dropout", ["a"], ["b"]), node("Relu", ["b"], ["c"]),
                   node("Identity", ["c"], ["y"])])
    g.removeIdentities()
    XCTAssertEqual(g.nodes.map(\.opType), ["Relu", "Identity"])
    XCTAssertEqual(g.nodes[0].inputs, ["x"])
  }

  func testDeadNodesAndUnusedInitializersGo() {
    var g = graph([node("Relu", ["x"], ["y"]), node("Neg", ["x"], ["unused"])])
    g.initializers["w"] = Tensor(shape: [1], floats: [1])
    g.eliminateDeadNodes()
    XCTAssertEqual(g.nodes.map(\.opType), ["Relu"])
    XCTAssertTrue(g.initializers.isEmpty)
  }

  /// Shape nodes fold from known shapes (with start/end), and constant chains fold through the
  /// evaluator; layer ops are never folded.
  func testFoldingUsesShapesAndEvaluator() throws {
    var g = graph([node("Shape", ["x"], ["s"], ["start": .int(-1)]), node("Neg", ["s"], ["y"])])
    let folded = try g.foldConstants(knownShapes: ["x": [1, 4]]) { n, ins in
      XCTAssertEqual(n.opType, "Neg")
      return [Tensor(shape: ins[0].shape, ints: ins[0].ints.map { -$0 })]
    }
    XCTAssertEqual(folded, 2)
    XCTAssertEqual(g.initializers["y"]?.ints, [-4])
    var conv = graph([node("MatMul", ["w", "w"], ["y"])])
    conv.initializers["w"] = Tensor(shape: [1, 1], floats: [2])
    XCTAssertEqual(try conv.foldConstants { _, _ in XCTFail("MatMul folded"); return [] }, 0)
  }

  func testLayersListConstantWeights() {
    var g = graph([node("Conv", ["x", "w", "b"], ["a"]), node("MatMul", ["a", "m"], ["y"]),
                   node("MatMul", ["a", "a"], ["z"])])
    g.initializers = ["w": .zeros([4, 2, 3, 3]), "b": .zeros([4]), "m": .zeros([4, 5])]
    let layers = g.layers
    XCTAssertEqual(layers.map(\.opType), ["Conv", "MatMul"])
    XCTAssertEqual(layers[0].parameterCount, 4 * 2 * 9 + 4)
    XCTAssertEqual(layers[1].weightShape, [4, 5])
  }
}
