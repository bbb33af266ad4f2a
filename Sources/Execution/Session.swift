import Kernels
import GraphIR
import TensorCore

/// A session: a canonical graph, specialized per set of input shapes on first use (the
/// specialization is cached; a session is not shared across threads). Layers named in
/// `quantized` run on the integer/half kernels, the rest on the FP32 reference path.
public final class Session {
  /// The canonical, shape-independent graph.
  public let graph: Graph
  /// Specialized graphs per input shapes (shared with the sessions `with(quantized:)` makes:
  /// specialization does not depend on which layers are quantized).
  private var specializedGraphs: [[Int]: Graph] = [:]
  private var interpreters: [[Int]: Interpreter] = [:]

  /// Layers (by node name) that run on the quantized kernels instead of the FP32 path.
  public let quantized: [String: LayerQuantization]

  /// Whether Conv nodes run their only-reader activation as an epilogue (observers then never
  /// see the pre-activation values).
  public let fuseActivations: Bool

  public init(graph: Graph, quantized: [String: LayerQuantization] = [:], fuseActivations: Bool = true) throws {
    MemoryTuning.apply()
    self.graph = try GraphPreparation.canonicalize(graph)
    self.quantized = quantized
    self.fuseActivations = fuseActivations
    let names = Set(self.graph.nodes.map(\.name))
    if let missing = quantized.keys.sorted().first(where: { !names.contains($0) }) {
      throw GraphError("the plan names layer '\(missing)', which this model does not have (see `mixprec inspect`)")
    }
  }

  /// The same model with other layers quantized (shares the canonical graph).
  public func with(quantized: [String: LayerQuantization]) throws -> Session {
    try Session(canonical: graph, quantized: quantized, specialized: specializedGraphs)
  }

  private init(canonical: Graph, quantized: [String: LayerQuantization], specialized: [[Int]: Graph]) throws {
    graph = canonical
    self.quantized = quantized
    fuseActivations = true
    specializedGraphs = specialized
  }

  /// The graph specialized for `shapes` (input name → shape), shape-subgraphs folded.
  public func specializedGraph(for shapes: [String: [Int]]) throws -> Graph {
    try prepared(for: shapes).graph
  }

  private func prepared(for shapes: [String: [Int]], feeds: [String: Tensor]? = nil) throws -> (graph: Graph, interpreter: Interpreter) {
    let key = graph.inputs.flatMap { (shapes[$0.name] ?? []) + [-1] }
    if let g = specializedGraphs[key], let i = interpreters[key] { return (g, i) }
    let g = try specializedGraphs[key] ?? GraphPreparation.specialize(graph, inputShapes: shapes, feeds: feeds).0
    let i = try Interpreter(graph: g, fuseActivations: fuseActivations, quantized: quantized)
    specializedGraphs[key] = g
    interpreters[key] = i
    return (g, i)
  }

  /// Checks feeds against the model's inputs: every input present, element type and shape legal.
  public func validate(_ feeds: [String: Tensor]) throws {
    for input in graph.inputs {
      guard let t = feeds[input.name] else {
        let have = feeds.keys.sorted().joined(separator: ", ")
        throw GraphError("missing model input '\(input.name)' (given: \(have.isEmpty ? "none" : have))")
      }
      guard t.dtype == input.dtype else {
        throw GraphError("input '\(input.name)' has element type \(t.dtype), the model expects \(input.dtype)")
      }
      try GraphPreparation.checkShape(t.shape, against: input)
    }
  }

  /// Runs the model. `observe` sees every executed node with its outputs.
  /// `profile` receives each node's wall time in nanoseconds.
  public func run(_ feeds: [String: Tensor], observe: ((Node, [Tensor]) -> Void)? = nil,
                  profile: ((Node, UInt64) -> Void)? = nil) throws -> [String: Tensor] {
    try validate(feeds)
    let p = try prepared(for: feeds.mapValues(\.shape), feeds: feeds)
    return try p.interpreter.run(feeds, observe: observe, profile: profile)
  }

  /// Every value of one run by name (feeds and node outputs): what `run(_:resumingAt:from:)`
  /// needs to skip the nodes before a layer.
  public func recordingRun(_ feeds: [String: Tensor]) throws -> [String: Tensor] {
    var known = feeds
    _ = try run(feeds) { node, outs in
      for (name, t) in zip(node.outputs, outs) where !name.isEmpty { known[name] = t }
    }
    return known
  }

  /// Runs from node `layer` on: the values before it come from `known` (a `recordingRun` of the
  /// same feeds on a session that computes them identically, e.g. FP32 when only `layer` and
  /// later ones are quantized).
  public func run(_ feeds: [String: Tensor], resumingAt layer: String, from known: [String: Tensor]) throws -> [String: Tensor] {
    try validate(feeds)
    let p = try prepared(for: feeds.mapValues(\.shape), feeds: feeds)
    return try p.interpreter.run(feeds, resume: (layer, known))
  }
}
