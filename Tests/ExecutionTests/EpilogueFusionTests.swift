import XCTest
@testable import Execution
import GraphIR
import TensorCore

/// The nodes the interpreter runs inside a Conv or a constant-weight MatMul give exactly what the
/// separate nodes give, and only sole readers are absorbed.
final class EpilogueFusionTests: XCTestCase {
  private func scalar(_ v: Float) -> Tensor { Tensor(shape: [1], floats: [v]) }

  private func graph(_ nodes: [Node], input: [Int?], outputs: [String] = ["y"], _ initializers: [String: Tensor]) -> Graph {
    var g = Graph(nodes: nodes, inputs: [ValueInfo(name: "x", dtype: .float32, shape: input)],
      outputs: outputs.map { ValueInfo(name: $0, dtype: .float32, shape: []) }, opset: 13)
    g.initializers = initializers
    return g
  }

  /// Fused and separate runs of `g` on `x` agree for every output: bit for bit unless `tolerance`.
  private func assertFusedEqualsSeparate(_ g: Graph, _ x: Tensor, quantized: [String: LayerQuantization] = [:],
                                         tolerance: Float? = nil, _ message: String,
                                         file: StaticString = #filePath, line: UInt = #line) throws {
    let fused = try Interpreter(graph: g, quantized: quantized).run(["x": x])
    let separate = try Interpreter(graph: g, fuseActivations: false, quantized: quantized).run(["x": x])
    for o in g.outputs {
      let a = try XCTUnwrap(fused[o.name], message, file: file, line: line)
      let b = try XCTUnwrap(separate[o.name], message, file: file, line: line)
      XCTAssertEqual(a.shape, b.shape, message, file: file, line: line)
      if let tolerance {
        assertClose(a.floats, b.floats, tolerance: tolerance, message, file: file, line: line)
      } else {
        XCTAssertEqual(a.floats, b.floats, message, file: file, line: line)
      }
    }
  }

  /// Conv followed by each fusable activation gives the same values fused and unfused.
  func testFusedActivationsMatchSeparateNodes() throws {
    let activations: [(String, [String], [String: Attribute])] = [
      ("Relu", [], [:]), ("HardSwish", [], [:]), ("Clip", ["lo", "hi"], [:]),
      ("HardSigmoid", [], ["alpha": .float(0.3), "beta": .float(0.4)]), ("LeakyRelu", [], ["alpha": .float(0.2)]),
    ]
    for (op, extra, attrs) in activations {
      for group in [1, 4] {
        let conv = Node(name: "conv", opType: "Conv", inputs: ["x", "w", "b"], outputs: ["c"],
          attributes: ["pads": .ints([1, 1, 1, 1]), "group": .int(group)])
        let act = Node(name: "act", opType: op, inputs: ["c"] + extra, outputs: ["y"], attributes: attrs)
        let g = graph([conv, act], input: [nil, 4, 5, 6], ["w": randomTensor([4, 4 / group, 3, 3], seed: 1),
          "b": randomTensor([4], seed: 2), "lo": Tensor(shape: [], floats: [-0.2]), "hi": Tensor(shape: [], floats: [0.5])])
        XCTAssertEqual(EpilogueFusion.find(in: g)[0]?.absorbed, [1], op)
        try assertFusedEqualsSeparate(g, randomTensor([2, 4, 5, 6], seed: 3), "\(op) group \(group)")
      }
    }
  }

  /// PP-OCRv4's learnable affine after an activation: Conv → HardSwish → Mul(s) → Add(t) is one node.
  func testScalarAffineAfterAnActivationIsAbsorbed() throws {
    for group in [1, 4] {
      let nodes = [
        Node(name: "conv", opType: "Conv", inputs: ["x", "w"], outputs: ["c"], attributes: ["pads": .ints([1, 1, 1, 1]), "group": .int(group)]),
        Node(name: "act", opType: "HardSwish", inputs: ["c"], outputs: ["h"]),
        Node(name: "mul", opType: "Mul", inputs: ["s", "h"], outputs: ["m"]),
        Node(name: "add", opType: "Add", inputs: ["m", "t"], outputs: ["y"]),
      ]
      let g = graph(nodes, input: [nil, 4, 5, 6], ["w": randomTensor([4, 4 / group, 3, 3], seed: 4), "s": scalar(1.7), "t": scalar(-0.3)])
      XCTAssertEqual(EpilogueFusion.find(in: g)[0]?.absorbed, [1, 2, 3])
      try assertFusedEqualsSeparate(g, randomTensor([2, 4, 5, 6], seed: 5), "group \(group)")
    }
  }

  /// MatMul → Add(bias per column) → the five erf-GELU nodes → Mul(scalar): one node, the same bits.
  func testMatMulBiasAndGeluAreAbsorbed() throws {
    let nodes = [
      Node(name: "mm", opType: "MatMul", inputs: ["x", "w"], outputs: ["a"]),
      Node(name: "bias", opType: "Add", inputs: ["a", "b"], outputs: ["y0"]),
      Node(name: "div", opType: "Div", inputs: ["y0", "sqrt2"], outputs: ["d"]),
      Node(name: "erf", opType: "Erf", inputs: ["d"], outputs: ["e"]),
      Node(name: "one", opType: "Add", inputs: ["e", "c1"], outputs: ["f"]),
      Node(name: "mulx", opType: "Mul", inputs: ["y0", "f"], outputs: ["g"]),
      Node(name: "half", opType: "Mul", inputs: ["g", "c05"], outputs: ["h"]),
      Node(name: "scale", opType: "Mul", inputs: ["h", "s"], outputs: ["y"]),
    ]
    let g = graph(nodes, input: [nil, 3, 16], ["w": randomTensor([16, 40], seed: 6), "b": randomTensor([40], seed: 7),
      "sqrt2": scalar(Float(2).squareRoot()), "c1": scalar(1), "c05": scalar(0.5), "s": scalar(0.9)])
    let fusion = try XCTUnwrap(EpilogueFusion.find(in: g)[0])
    XCTAssertEqual(fusion.absorbed, Array(1...7))
    XCTAssertEqual(fusion.columnBias?.count, 40)
    // Values spread over erf's whole range, both signs.
    var x = randomTensor([2, 3, 16], seed: 8)
    x = Tensor(shape: x.shape, floats: x.floats.map { $0 * 3 })
    try assertFusedEqualsSeparate(g, x, "fp32")
    // The quantized layer takes the fused bias as its own; the INT8 kernel adds it in its
    // dequantizing store (one rounding fewer than a separate Add).
    let w = g.initializers["w"]!.floats
    let codes = (0..<(40 * 16)).map { i in Int8(max(-127, min(127, (w[(i % 16) * 40 + i / 16] / 0.01).rounded()))) }
    let int8 = LayerQuantization.integer(bits: 8, values: codes, scales: [Float](repeating: 0.01, count: 40), group: nil,
      input: ActivationParameters(scale: 0.03, zero: 128))
    try assertFusedEqualsSeparate(g, x, quantized: ["mm": int8], tolerance: 2e-6, "int8")
    try assertFusedEqualsSeparate(g, x, quantized: ["mm": .half], "fp16")
  }

  /// A value read twice, a graph output, or a bias that is not one value per column keeps its node.
  func testOnlySoleReadersOfTheRightShapeAreAbsorbed() throws {
    let conv = Node(name: "conv", opType: "Conv", inputs: ["x", "w"], outputs: ["c"])
    let shared = graph([conv, Node(name: "r", opType: "Relu", inputs: ["c"], outputs: ["y"]),
                        Node(name: "n", opType: "Neg", inputs: ["c"], outputs: ["z"])],
      input: [1, 1, 3, 3], outputs: ["y", "z"], ["w": randomTensor([1, 1, 1, 1], seed: 1)])
    XCTAssertTrue(EpilogueFusion.find(in: shared).isEmpty)
    let exposed = graph([conv, Node(name: "r", opType: "Relu", inputs: ["c"], outputs: ["y"])],
      input: [1, 1, 3, 3], outputs: ["y", "c"], ["w": randomTensor([1, 1, 1, 1], seed: 1)])
    XCTAssertTrue(EpilogueFusion.find(in: exposed).isEmpty)
    let mm = Node(name: "mm", opType: "MatMul", inputs: ["x", "w"], outputs: ["a"])
    let rowBias = graph([mm, Node(name: "add", opType: "Add", inputs: ["a", "b"], outputs: ["y"])],
      input: [4, 8], ["w": randomTensor([8, 4], seed: 2), "b": randomTensor([4, 1], seed: 3)])
    XCTAssertTrue(EpilogueFusion.find(in: rowBias).isEmpty)
    try assertFusedEqualsSeparate(rowBias, randomTensor([4, 8], seed: 4), "row bias")
    // An activation input (not a constant weight) is no fusion site.
    let product = graph([Node(name: "mm", opType: "MatMul", inputs: ["x", "x"], outputs: ["a"]),
                         Node(name: "r", opType: "Relu", inputs: ["a"], outputs: ["y"])], input: [4, 4], [:])
    XCTAssertTrue(EpilogueFusion.find(in: product).isEmpty)
  }
}
