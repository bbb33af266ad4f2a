import Kernels
import GraphIR
import TensorCore

/// An FP32 reference session: a canonical graph, specialized per set of input shapes on first
/// use (the specialization is cached; a session is not shared across threads).
public final class Session {
  /// The canonical, shape-independent graph.
  public let graph: Graph
  private var specialized: [[Int]: (graph: Graph, interpreter: Interpreter)] = [:]

  public init(graph: Graph) throws {
    MemoryTuning.apply()
    self.graph = try GraphPreparation.canonicalize(graph)
  }

  /// The graph specialized for `shapes` (input name → shape), shape-subgraphs folded.
  public func specializedGraph(for shapes: [String: [Int]]) throws -> Graph {
    try prepared(for: shapes).graph
  }

  private func prepared(for shapes: [String: [Int]], feeds: [String: Tensor]? = nil) throws -> (graph: Graph, interpreter: Interpreter) {
    let key = graph.inputs.flatMap { (shapes[$0.name] ?? []) + [-1] }
    if let p = specialized[key] { return p }
    let (g, _) = try GraphPreparation.specialize(graph, inputShapes: shapes, feeds: feeds)
    let p = (g, try Interpreter(graph: g))
    specialized[key] = p
    return p
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
}
