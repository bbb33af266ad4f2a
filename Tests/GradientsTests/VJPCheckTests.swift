import Execution
import Foundation
import Gradients
import GraphIR
import TensorCore
import XCTest

/// Every vector-Jacobian product against a central finite difference of the op itself:
///
///     ⟨VJP(u), d⟩  ≈  (⟨u, f(x + εd)⟩ − ⟨u, f(x − εd)⟩) / 2ε
///
/// for a random cotangent u and random direction d. Inputs are a shuffled grid with spacing 0.1
/// offset by 0.05, so no kink (ReLU at 0, HardSwish at ±3, …) and no tie of a max lies within
/// ε·|d| of a value.
final class VJPCheckTests: XCTestCase {
  /// Relative tolerance of a directional derivative (float32 forward, ε = 3e-3).
  let tolerance = 1e-2
  let epsilon: Float = 3e-3

  func grid(_ shape: [Int], seed: UInt64, positive: Bool = false, scale: Float = 1) -> Tensor {
    var g = SeededGenerator(seed: seed)
    let n = shape.reduce(1, *)
    let values = (0..<n).map { i in (Float(i) - (positive ? -1 : Float(n) / 2)) * 0.1 + 0.05 }.shuffled(using: &g)
    return Tensor(shape: shape, floats: values.map { $0 * scale })
  }

  func random(_ n: Int, seed: UInt64) -> [Float] {
    var g = SeededGenerator(seed: seed)
    return (0..<n).map { _ in Float.random(in: -1...1, using: &g) }
  }

  /// Checks the VJP of `node` with respect to each of `wrt` (all inputs are given as constants).
  func check(_ node: Node, _ values: [String: Tensor], wrt: [String], opset: Int = 17, file: StaticString = #filePath, line: UInt = #line) throws {
    let outputs = node.outputs.filter { !$0.isEmpty }
    let graph = Graph(nodes: [node], inputs: [], outputs: outputs.map { ValueInfo(name: $0, dtype: .float32, shape: []) },
      initializers: values, opset: opset)
    let rg = try ReverseGraph(graph: graph)
    let trace = try rg.forward([:])
    let cotangents = Dictionary(uniqueKeysWithValues: outputs.enumerated().map { k, o in (o, random(trace[o]!.count, seed: 100 + UInt64(k))) })
    let grads = try rg.backward(trace, seeds: cotangents, parameters: Set(wrt))
    func phi(_ overrides: [String: Tensor]) throws -> Double {
      let t = try rg.forward([:], overrides: overrides)
      var s: Double = 0
      for o in outputs { for (a, b) in zip(t[o]!.floats, cotangents[o]!) { s += Double(a) * Double(b) } }
      return s
    }
    for (k, name) in wrt.enumerated() {
      let x = values[name]!
      let d = random(x.count, seed: 7 + UInt64(k))
      let xv = x.floats
      let plus = Tensor(shape: x.shape, floats: (0..<xv.count).map { xv[$0] + epsilon * d[$0] })
      let minus = Tensor(shape: x.shape, floats: (0..<xv.count).map { xv[$0] - epsilon * d[$0] })
      let numeric = (try phi([name: plus]) - phi([name: minus])) / (2 * Double(epsilon))
      let g = grads[name]!
      XCTAssertEqual(g.count, x.count, "\(node.opType) cotangent size for \(name)", file: file, line: line)
      let analytic = zip(g, d).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
      let scale = max(abs(numeric), abs(analytic), 1e-3)
      XCTAssertLessThan(abs(analytic - numeric) / scale, tolerance,
        "\(node.opType) d/d\(name): analytic \(analytic) vs numeric \(numeric)", file: file, line: line)
    }
  }

  func node(_ op: String, _ inputs: [String], _ outputs: [String] = ["y"], _ attributes: [String: Attribute] = [:]) -> Node {
    Node(name: op.lowercased(), opType: op, inputs: inputs, outputs: outputs, attributes: attributes)
  }

  func testBroadcastingArithmetic() throws {
    let a = grid([2, 3, 4], seed: 1), b = grid([3, 1], seed: 2), p = grid([2, 3, 4], seed: 3, positive: true)
    for op in ["Add", "Sub", "Mul"] { try check(node(op, ["a", "b"]), ["a": a, "b": b], wrt: ["a", "b"]) }
    try check(node("Div", ["a", "p"]), ["a": a, "p": p], wrt: ["a", "p"])
    try check(node("Pow", ["p", "e"]), ["p": p, "e": Tensor(shape: [], floats: [2])], wrt: ["p"])
    try check(node("Pow", ["p", "e"]), ["p": p, "e": Tensor(shape: [], floats: [0.5])], wrt: ["p"])
  }

  func testUnaryMathAndActivations() throws {
    let x = grid([3, 40], seed: 4), p = grid([3, 40], seed: 5, positive: true)
    for op in ["Relu", "Sigmoid", "Tanh", "Neg", "Abs", "Erf", "HardSwish", "Softplus", "Identity"] {
      try check(node(op, ["x"]), ["x": x], wrt: ["x"])
    }
    for op in ["Sqrt", "Log", "Exp", "Reciprocal"] { try check(node(op, ["p"]), ["p": p], wrt: ["p"]) }
    try check(node("LeakyRelu", ["x"], ["y"], ["alpha": .float(0.1)]), ["x": x], wrt: ["x"])
    try check(node("HardSigmoid", ["x"], ["y"], ["alpha": .float(0.2), "beta": .float(0.5)]), ["x": x], wrt: ["x"])
    try check(node("Gelu", ["x"]), ["x": x], wrt: ["x"], opset: 20)
    try check(node("Clip", ["x", "lo", "hi"]), ["x": x, "lo": Tensor(shape: [], floats: [-1]), "hi": Tensor(shape: [], floats: [2])], wrt: ["x"])
  }

  func testSoftmaxLayerNormAndReductions() throws {
    let x = grid([2, 3, 5], seed: 6)
    try check(node("Softmax", ["x"], ["y"], ["axis": .int(1)]), ["x": x], wrt: ["x"], opset: 13)
    try check(node("Softmax", ["x"], ["y"], ["axis": .int(1)]), ["x": x], wrt: ["x"], opset: 11)  // coerced to 2-D
    try check(node("LogSoftmax", ["x"], ["y"], ["axis": .int(-1)]), ["x": x], wrt: ["x"], opset: 13)
    try check(node("LayerNormalization", ["x", "s", "b"], ["y"], ["axis": .int(-1)]),
      ["x": x, "s": grid([5], seed: 7), "b": grid([5], seed: 8)], wrt: ["x", "s", "b"])
    try check(node("ReduceMean", ["x"], ["y"], ["axes": .ints([1]), "keepdims": .int(1)]), ["x": x], wrt: ["x"], opset: 13)
    try check(node("ReduceSum", ["x", "axes"], ["y"], ["keepdims": .int(0)]), ["x": x, "axes": Tensor(shape: [2], ints: [0, 2])], wrt: ["x"], opset: 13)
  }

  func testPools() throws {
    let x = grid([2, 3, 7, 6], seed: 9)
    try check(node("GlobalAveragePool", ["x"]), ["x": x], wrt: ["x"])
    try check(node("GlobalMaxPool", ["x"]), ["x": x], wrt: ["x"])
    try check(node("MaxPool", ["x"], ["y"], ["kernel_shape": .ints([3, 3]), "strides": .ints([2, 2]), "pads": .ints([1, 1, 1, 1])]), ["x": x], wrt: ["x"])
    try check(node("AveragePool", ["x"], ["y"], ["kernel_shape": .ints([2, 3]), "strides": .ints([2, 1]), "pads": .ints([0, 1, 1, 1]),
      "count_include_pad": .int(1)]), ["x": x], wrt: ["x"])
    try check(node("AveragePool", ["x"], ["y"], ["kernel_shape": .ints([3, 2]), "strides": .ints([2, 2]), "ceil_mode": .int(1)]), ["x": x], wrt: ["x"])
  }

  func testMatMulAndGemm() throws {
    try check(node("MatMul", ["a", "b"]), ["a": grid([2, 3, 4], seed: 10), "b": grid([4, 5], seed: 11)], wrt: ["a", "b"])
    try check(node("MatMul", ["a", "b"]), ["a": grid([2, 1, 3, 4], seed: 12), "b": grid([3, 4, 2], seed: 13)], wrt: ["a", "b"])
    try check(node("MatMul", ["a", "b"]), ["a": grid([4], seed: 14), "b": grid([2, 4, 3], seed: 15)], wrt: ["a", "b"])
    for (ta, tb) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
      let a = ta == 1 ? grid([4, 3], seed: 16) : grid([3, 4], seed: 16)
      let b = tb == 1 ? grid([5, 4], seed: 17) : grid([4, 5], seed: 17)
      try check(node("Gemm", ["a", "b", "c"], ["y"], ["transA": .int(ta), "transB": .int(tb), "alpha": .float(0.7), "beta": .float(1.3)]),
        ["a": a, "b": b, "c": grid([5], seed: 18)], wrt: ["a", "b", "c"])
    }
  }

  func testConvolutions() throws {
    let x = grid([2, 4, 7, 6], seed: 19, scale: 0.2)
    // Plain with bias and pads, stride 2 with groups and dilation, pointwise, depthwise 3×3 and 5×5 s2.
    try check(node("Conv", ["x", "w", "b"], ["y"], ["pads": .ints([1, 1, 1, 1])]),
      ["x": x, "w": grid([3, 4, 3, 3], seed: 20, scale: 0.2), "b": grid([3], seed: 21)], wrt: ["x", "w", "b"])
    try check(node("Conv", ["x", "w"], ["y"], ["group": .int(2), "strides": .ints([2, 2]), "dilations": .ints([1, 2]), "pads": .ints([1, 2, 0, 1])]),
      ["x": x, "w": grid([6, 2, 2, 3], seed: 22, scale: 0.2)], wrt: ["x", "w"])
    try check(node("Conv", ["x", "w", "b"]), ["x": x, "w": grid([5, 4, 1, 1], seed: 23), "b": grid([5], seed: 24)], wrt: ["x", "w", "b"])
    try check(node("Conv", ["x", "w", "b"], ["y"], ["group": .int(4), "pads": .ints([1, 1, 1, 1])]),
      ["x": x, "w": grid([4, 1, 3, 3], seed: 25), "b": grid([4], seed: 26)], wrt: ["x", "w", "b"])
    try check(node("Conv", ["x", "w"], ["y"], ["group": .int(4), "strides": .ints([2, 2]), "pads": .ints([2, 2, 2, 2])]),
      ["x": x, "w": grid([8, 1, 5, 5], seed: 27, scale: 0.2)], wrt: ["x", "w"])
    // 1-D.
    try check(node("Conv", ["x", "w"], ["y"], ["pads": .ints([1, 1]), "strides": .ints([2])]),
      ["x": grid([2, 3, 9], seed: 28), "w": grid([2, 3, 3], seed: 29)], wrt: ["x", "w"])
  }

  /// ConvTranspose: the DB detector's 2×2 stride-2 upsampling, and pads, groups, dilation and
  /// output_padding.
  func testTransposedConvolutions() throws {
    let x = grid([2, 4, 3, 4], seed: 40, scale: 0.3)
    try check(node("ConvTranspose", ["x", "w", "b"], ["y"], ["strides": .ints([2, 2])]),
      ["x": x, "w": grid([4, 3, 2, 2], seed: 41, scale: 0.3), "b": grid([3], seed: 42)], wrt: ["x", "w", "b"])
    try check(node("ConvTranspose", ["x", "w"], ["y"], ["group": .int(2), "strides": .ints([2, 1]), "dilations": .ints([1, 2]),
      "pads": .ints([1, 0, 0, 1]), "output_padding": .ints([1, 0])]),
      ["x": x, "w": grid([4, 2, 3, 3], seed: 43, scale: 0.3)], wrt: ["x", "w"])
  }

  /// Resize: the detector's nearest ×2 upsampling, and linear at a non-integer scale.
  func testResize() throws {
    let x = grid([1, 2, 3, 4], seed: 48)
    try check(node("Resize", ["x", "", "s"], ["y"], ["mode": .string("nearest")]),
      ["x": x, "s": Tensor(shape: [4], floats: [1, 1, 2, 2])], wrt: ["x"])
    try check(node("Resize", ["x", "", "s"], ["y"], ["mode": .string("linear")]),
      ["x": x, "s": Tensor(shape: [4], floats: [1, 1, 1.5, 2.5])], wrt: ["x"])
  }

  func testPadAndPRelu() throws {
    let x = grid([1, 2, 3, 4], seed: 49)
    for mode in ["constant", "reflect", "edge"] {
      try check(node("Pad", ["x", "p", "v"], ["y"], ["mode": .string(mode)]),
        ["x": x, "p": Tensor(shape: [8], ints: [0, 0, 1, 2, 0, 0, 2, 1]), "v": Tensor(shape: [], floats: [0.5])], wrt: ["x"])
    }
    try check(node("PRelu", ["x", "s"]), ["x": x, "s": Tensor(shape: [2, 1, 1], floats: [0.1, 0.3])], wrt: ["x", "s"])
  }

  func testBatchNormalization() throws {
    let x = grid([2, 3, 4, 2], seed: 44)
    let variance = Tensor(shape: [3], floats: [0.5, 1.2, 2.0])
    try check(node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], ["epsilon": .float(1e-3)]),
      ["x": x, "s": grid([3], seed: 45), "b": grid([3], seed: 46), "m": grid([3], seed: 47), "v": variance], wrt: ["x", "s", "b"])
  }

  func testMovement() throws {
    let x = grid([2, 3, 4], seed: 30)
    try check(node("Reshape", ["x", "s"]), ["x": x, "s": Tensor(shape: [2], ints: [6, 4])], wrt: ["x"])
    try check(node("Flatten", ["x"]), ["x": x], wrt: ["x"])
    try check(node("Unsqueeze", ["x", "a"]), ["x": x, "a": Tensor(shape: [1], ints: [1])], wrt: ["x"], opset: 13)
    try check(node("Transpose", ["x"], ["y"], ["perm": .ints([2, 0, 1])]), ["x": x], wrt: ["x"])
    try check(node("Slice", ["x", "st", "en", "ax", "sp"]), ["x": x, "st": Tensor(shape: [2], ints: [3, 0]),
      "en": Tensor(shape: [2], ints: [0, 2]), "ax": Tensor(shape: [2], ints: [2, 1]), "sp": Tensor(shape: [2], ints: [-2, 1])], wrt: ["x"])
    try check(node("Concat", ["x", "z"], ["y"], ["axis": .int(1)]), ["x": x, "z": grid([2, 2, 4], seed: 31)], wrt: ["x", "z"])
    try check(node("Split", ["x", "sz"], ["y1", "y2"], ["axis": .int(2)]), ["x": x, "sz": Tensor(shape: [2], ints: [1, 3])], wrt: ["x"], opset: 13)
    try check(node("Gather", ["x", "i"], ["y"], ["axis": .int(1)]), ["x": x, "i": Tensor(shape: [4], ints: [2, 0, 2, -1])], wrt: ["x"])
    try check(node("Expand", ["x", "s"]), ["x": grid([3, 1], seed: 32), "s": Tensor(shape: [3], ints: [2, 3, 4])], wrt: ["x"])
  }
}
