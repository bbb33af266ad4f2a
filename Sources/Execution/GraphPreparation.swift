import GraphIR
import TensorCore

/// Turns an imported graph into the form the runtime executes.
public enum GraphPreparation {
  /// Shape-independent clean-up: Constant nodes become initializers, Identity/Dropout vanish,
  /// nodes are sorted, constant subgraphs are folded, BatchNormalization is folded into the Conv
  /// before it and so are constant per-channel Mul/Add after a Conv, decomposed hard-swish becomes
  /// one HardSwish node, dead nodes are dropped, and
  /// every remaining op is checked to be supported.
  public static func canonicalize(_ graph: Graph) throws -> Graph {
    var g = graph
    try g.hoistConstants()
    g.removeIdentities()
    try g.sortTopologically()
    g.eliminateDeadNodes()
    for n in g.nodes { _ = try OpRegistry.kernel(for: n, opset: g.opset) }
    let opset = g.opset
    try g.foldConstants(evaluate: { node, inputs in try evaluate(node, inputs, opset: opset) })
    g.foldBatchNorms()
    g.foldAffineIntoConv()
    g.fuseHardSwish()
    g.eliminateDeadNodes()
    return g
  }

  /// Binds concrete input shapes: checks them against the declared ones, runs one shape pass
  /// (on `feeds` when given, else on zeros), and folds every shape computation (Shape → Gather →
  /// Concat → Reshape chains) into constants. Only shapes and initializers are folded, never feed
  /// values, so the result holds for any feeds of these shapes. Returns the specialized graph and
  /// the shape of every value.
  public static func specialize(_ graph: Graph, inputShapes: [String: [Int]],
                                feeds given: [String: Tensor]? = nil) throws -> (Graph, [String: [Int]]) {
    var g = graph
    for input in g.inputs {
      guard let shape = inputShapes[input.name] else {
        throw GraphError("no shape given for model input '\(input.name)'")
      }
      try checkShape(shape, against: input)
      g.inputs[g.inputs.firstIndex { $0.name == input.name }!].shape = shape
    }
    let feeds = given ?? Dictionary(uniqueKeysWithValues: g.inputs.map { ($0.name, Tensor.zeros($0.shape.map { $0! }, dtype: $0.dtype)) })
    var shapes: [String: [Int]] = inputShapes
    for (k, t) in g.initializers { shapes[k] = t.shape }
    _ = try Interpreter(graph: g, fuseActivations: false).run(feeds) { node, outs in
      for (name, t) in zip(node.outputs, outs) where !name.isEmpty { shapes[name] = t.shape }
    }
    let opset = g.opset
    try g.foldConstants(knownShapes: shapes, evaluate: { node, inputs in try evaluate(node, inputs, opset: opset) })
    g.eliminateDeadNodes()
    return (g, shapes)
  }

  /// Throws when `shape` cannot feed `input` (rank or a static dimension differs).
  public static func checkShape(_ shape: [Int], against input: ValueInfo) throws {
    let declared = input.shape.map { $0.map(String.init) ?? "?" }.joined(separator: "×")
    guard shape.count == input.shape.count || input.shape.isEmpty else {
      throw GraphError("input '\(input.name)' has shape \(shape), the model expects rank \(input.shape.count) (\(declared))")
    }
    for (i, d) in input.shape.enumerated() where d != nil && d != shape[i] {
      throw GraphError("input '\(input.name)' has shape \(shape), the model expects \(declared) (dimension \(i) must be \(d!))")
    }
  }

  /// Runs one node with the reference kernels (constant folding's evaluator).
  public static func evaluate(_ node: Node, _ inputs: [Tensor], opset: Int) throws -> [Tensor] {
    let kernel = try OpRegistry.kernel(for: node, opset: opset)
    let args: [Tensor?] = zip(node.inputs, inputs).map { $0.isEmpty ? nil : $1 }
    return try kernel(node, args, opset)
  }
}
