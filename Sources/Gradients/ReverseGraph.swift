import Execution
import GraphIR
import TensorCore

/// Reverse-mode differentiation of a specialized graph (fixed input shapes) with respect to
/// chosen float initializers (the layer weights).
///
/// The forward pass keeps every value (a `Trace`); the backward pass walks the nodes in reverse,
/// asks each op's `VJP` for its input cotangents, and sums them into the values they came from.
/// Only values that depend on a requested parameter are differentiated.
public struct ReverseGraph: Sendable {
  public let graph: Graph
  /// Value name → index of the node that produces it.
  let producer: [String: Int]

  /// - Parameter graph: a specialized graph (`Session.specializedGraph(for:)`), unfused.
  public init(graph: Graph) throws {
    self.graph = graph
    var producer: [String: Int] = [:]
    for (i, n) in graph.nodes.enumerated() {
      for o in n.outputs where !o.isEmpty { producer[o] = i }
    }
    self.producer = producer
  }

  /// Every value of one forward pass, by name (inputs, initializers and node outputs).
  public struct Trace: Sendable {
    public var values: [String: Tensor]
    public subscript(name: String) -> Tensor? { values[name] }
  }

  /// Runs the graph up to (and including) the node producing `until` (all nodes when nil).
  ///
  /// - Parameters:
  ///   - overrides: initializer name → replacement values (perturbed weights).
  ///   - start: resume at this node index; values before it come from `base`.
  ///   - base: a trace of the same feeds whose values before `start` are reused.
  public func forward(_ feeds: [String: Tensor], overrides: [String: Tensor] = [:], until: String? = nil,
                      start: Int = 0, base: Trace? = nil) throws -> Trace {
    var values: [String: Tensor] = base?.values ?? [:]
    if base == nil {
      for (k, t) in graph.initializers { values[k] = t }
      for (k, t) in feeds { values[k] = t }
    }
    for (k, t) in overrides { values[k] = t }
    let last = until.flatMap { producer[$0] } ?? graph.nodes.count - 1
    for i in start...max(start, last) where i < graph.nodes.count {
      let n = graph.nodes[i]
      let training = n.domain == TrainingOps.domain ? TrainingOps.kernels[n.opType] : nil
      let kernel = try training ?? OpRegistry.kernel(for: n, opset: graph.opset)
      let args: [Tensor?] = n.inputs.map { $0.isEmpty ? nil : values[$0] }
      let outs = try kernel(n, args, graph.opset)
      for (name, t) in zip(n.outputs, outs) where !name.isEmpty { values[name] = t }
    }
    return Trace(values: values)
  }

  /// Values that depend on any of `parameters` (and so carry a cotangent).
  func differentiable(_ parameters: Set<String>) -> Set<String> {
    var live = parameters
    for n in graph.nodes where n.inputs.contains(where: { live.contains($0) }) {
      for o in n.outputs where !o.isEmpty { live.insert(o) }
    }
    return live
  }

  /// Cotangents of `parameters` given the cotangents `seeds` of some values (the loss head).
  ///
  ///     grad[p] = Σ over paths  (∂value/∂p)ᵀ · seed
  public func backward(_ trace: Trace, seeds: [String: [Float]], parameters: Set<String>) throws -> [String: [Float]] {
    let live = differentiable(parameters)
    var grads: [String: [Float]] = seeds
    let lastSeed = seeds.keys.compactMap { producer[$0] }.max() ?? -1
    // The first node any parameter feeds: nothing before it needs visiting.
    let first = graph.nodes.firstIndex { n in n.inputs.contains { parameters.contains($0) } } ?? 0
    var i = lastSeed
    while i >= first {
      defer { i -= 1 }
      let n = graph.nodes[i]
      let outGrads = n.outputs.map { $0.isEmpty ? nil : grads[$0] }
      if outGrads.allSatisfy({ $0 == nil }) { continue }
      let needs = n.inputs.map { !$0.isEmpty && live.contains($0) }
      if !needs.contains(true) { continue }
      guard let rule = VJPRegistry.rules[n.opType] else {
        throw GraphError("no gradient for op '\(n.opType)' at node '\(n.name)'; ops with gradients: \(VJPRegistry.rules.keys.sorted().joined(separator: ", "))")
      }
      let inputs: [Tensor?] = n.inputs.map { $0.isEmpty ? nil : trace.values[$0] }
      let outputs: [Tensor] = n.outputs.map { trace.values[$0] ?? Tensor.zeros([0]) }
      let context = VJPContext(node: n, inputs: inputs, outputs: outputs, outputGrads: outGrads, needs: needs, opset: graph.opset)
      let inGrads = try rule(context)
      for o in n.outputs where !parameters.contains(o) { grads[o] = nil }
      for (k, name) in n.inputs.enumerated() where needs[k] {
        guard k < inGrads.count, let g = inGrads[k] else { continue }
        if var acc = grads.removeValue(forKey: name) {  // removed first: the sum is in place
          precondition(acc.count == g.count, "cotangent of '\(name)' changed size at node '\(n.name)'")
          for j in 0..<acc.count { acc[j] += g[j] }
          grads[name] = acc
        } else {
          grads[name] = g
        }
      }
    }
    var out: [String: [Float]] = [:]
    for p in parameters {
      out[p] = grads[p] ?? [Float](repeating: 0, count: trace.values[p]?.count ?? 0)
    }
    return out
  }

  /// Index of the node producing `value`, nil for inputs and initializers.
  public func producerIndex(of value: String) -> Int? { producer[value] }
}
