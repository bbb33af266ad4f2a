import GraphIR
import TensorCore

/// Conv(3→8, 3×3, pad 1) → Relu → Conv(8→4, 1×1) → Flatten → Gemm(4·6·6 → 5, transB) → MatMul(5 → 3).
func tinyModel() -> Graph {
  var g = SeededGenerator(seed: 17)
  func t(_ shape: [Int]) -> Tensor { Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -0.5...0.5, using: &g) }) }
  let inits: [String: Tensor] = [
    "w1": t([8, 3, 3, 3]), "b1": t([8]), "w2": t([4, 8, 1, 1]), "b2": t([4]),
    "w3": t([5, 144]), "b3": t([5]), "w4": t([5, 3]),
  ]
  let nodes = [
    Node(name: "conv1", opType: "Conv", inputs: ["x", "w1", "b1"], outputs: ["c1"], attributes: ["pads": .ints([1, 1, 1, 1])]),
    Node(name: "relu", opType: "Relu", inputs: ["c1"], outputs: ["r1"], attributes: [:]),
    Node(name: "conv2", opType: "Conv", inputs: ["r1", "w2", "b2"], outputs: ["c2"], attributes: [:]),
    Node(name: "flat", opType: "Flatten", inputs: ["c2"], outputs: ["f"], attributes: [:]),
    Node(name: "fc", opType: "Gemm", inputs: ["f", "w3", "b3"], outputs: ["g"], attributes: ["transB": .int(1)]),
    Node(name: "head", opType: "MatMul", inputs: ["g", "w4"], outputs: ["y"], attributes: [:]),
  ]
  return Graph(nodes: nodes, inputs: [ValueInfo(name: "x", dtype: .float32, shape: [nil, 3, 6, 6])],
    outputs: [ValueInfo(name: "y", dtype: .float32, shape: [nil, 3])], initializers: inits, opset: 13)
}

func tinyInput(_ n: Int, seed: UInt64) -> [String: Tensor] {
  var g = SeededGenerator(seed: seed)
  return ["x": Tensor(shape: [n, 3, 6, 6], floats: (0..<(n * 108)).map { _ in Float.random(in: -1...1, using: &g) })]
}


/// A tensor of `shape` filled with values uniform in `range`, drawn from `g` in order.
func seededTensor(_ shape: [Int], _ range: ClosedRange<Float>, using g: inout SeededGenerator) -> Tensor {
  Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in Float.random(in: range, using: &g) })
}
