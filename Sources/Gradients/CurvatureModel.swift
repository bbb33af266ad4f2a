import Execution
import GraphIR
import TensorCore

/// A model, a set of calibration samples and its FP32 outputs, ready for the distillation loss's
/// gradients and Hessian-vector products with respect to the layer weights.
///
/// The logits are the input of a final Softmax along the last axis (both prepared models end in
/// one), otherwise the first output itself.
public final class CurvatureModel {
  /// Parameters: layer name → weight initializer name, in model order.
  public let layers: [(name: String, weight: String)]
  public let weights: [String: Tensor]
  public let loss: DistillationLoss
  let logits: String
  let batches: [Batch]

  struct Batch {
    var graph: ReverseGraph
    var feeds: [String: Tensor]
    /// The FP32 forward pass, kept while the traces fit `traceBudget`, else re-run on use.
    var kept: ReverseGraph.Trace?
    var probabilities: [Float]
  }

  /// Floats of forward values kept between uses (4 bytes each): 2^28 = 1 GiB.
  public static let traceBudget = 1 << 28

  func reference(_ b: Batch) throws -> ReverseGraph.Trace {
    if let t = b.kept { return t }
    return try b.graph.forward(b.feeds, until: logits)
  }

  /// - Parameters:
  ///   - layers: layer names to differentiate (nil: every Conv/Gemm/MatMul with a constant weight).
  ///   - batch: samples per forward pass.
  public init(session: Session, feeds: [String: Tensor], layers names: [String]? = nil, batch: Int = 32) throws {
    let canonical = session.graph
    let chosen = canonical.layers.filter { l in names?.contains(l.name) ?? true }
      .filter { canonical.initializers[$0.weightName]?.dtype == .float32 }
    layers = chosen.map { ($0.name, $0.weightName) }
    weights = Dictionary(uniqueKeysWithValues: chosen.map { ($0.weightName, canonical.initializers[$0.weightName]!) })
    let count = feeds.values.first?.shape.first ?? 0
    guard count > 0 else { throw GraphError("no samples to estimate curvature on") }
    guard let output = canonical.comparedOutput?.name else { throw GraphError("the model has no floating-point output to differentiate") }
    var logitsName = output
    var built: [Batch] = []
    var rowLength = 1, rows = 0, keptFloats = 0
    var graphs: [[Int]: ReverseGraph] = [:]
    for start in stride(from: 0, to: count, by: max(batch, 1)) {
      let part = feeds.mapValues { $0.rows(start..<min(start + batch, count)) }
      let shapes = part.mapValues(\.shape)
      let key = canonical.inputs.flatMap { (shapes[$0.name] ?? []) + [-1] }
      let rg: ReverseGraph
      if let g = graphs[key] { rg = g } else {
        rg = try ReverseGraph(graph: session.specializedGraph(for: shapes))
        graphs[key] = rg
      }
      logitsName = Self.logits(of: rg.graph, output: output)
      let trace = try rg.forward(part, until: logitsName)
      guard let z = trace[logitsName], case .float(let zv) = z.storage, let last = z.shape.last, last > 0 else {
        throw GraphError("the model's output '\(output)' is not a floating tensor")
      }
      rowLength = last
      rows += zv.count / last
      keptFloats += trace.values.values.reduce(0) { $0 + $1.count }
      built.append(Batch(graph: rg, feeds: part, kept: keptFloats <= Self.traceBudget ? trace : nil,
        probabilities: DistillationLoss.softmax(zv, rowLength: last)))
    }
    logits = logitsName
    batches = built
    loss = DistillationLoss(rowLength: rowLength, rows: rows)
  }

  /// The input of a last-axis Softmax producing `output` (through Identity nodes: an output
  /// named apart from the Softmax keeps one), else `output`.
  public static func logits(of g: Graph, output: String) -> String {
    var name = output
    var producer = g.nodes.last(where: { $0.outputs.contains(name) })
    while let n = producer, n.opType == "Identity", let x = n.input(0) {
      name = x
      producer = g.nodes.last(where: { $0.outputs.contains(name) })
    }
    guard let n = producer, n.opType == "Softmax", let x = n.input(0) else { return output }
    let axis = n.int("axis", default: g.opset < 13 ? 1 : -1)
    if axis == -1 { return x }
    // The declared rank of the output (a [N, C] output's axis 1 is its last).
    let rank = g.outputs.first { $0.name == output }?.shape.count ?? 0
    return axis == rank - 1 ? x : output
  }

  /// Samples the model holds.
  public var samples: Int { batches.reduce(0) { $0 + ($1.feeds.values.first?.shape.first ?? 0) } }

  /// The loss and its gradient with respect to the weights (replaced by `weights` where given).
  public func gradient(weights replaced: [String: Tensor] = [:]) throws -> (loss: Double, gradient: [String: [Float]]) {
    var total: Double = 0
    var sum: [String: [Float]] = [:]
    let params = Set(layers.map(\.weight))
    for b in batches {
      let trace = replaced.isEmpty ? try reference(b) : try b.graph.forward(b.feeds, overrides: replaced, until: logits)
      let (l, g) = loss.value(logits: trace[logits]!.floats, reference: b.probabilities)
      total += l
      accumulate(&sum, try b.graph.backward(trace, seeds: [logits: g], parameters: params))
    }
    return (total, sum)
  }

  /// H·d, the Gauss–Newton (= Hessian at the FP32 weights) product with direction `d`
  /// (weight name → values, missing weights are 0), by a central difference of the logits
  /// along d and an exact backward pass:
  ///
  ///     J·d ≈ (z(w + h·d) − z(w − h·d)) / 2h        H·d = Jᵀ · (∂²L/∂z²) · J·d
  ///
  /// Only the nodes from the first one that reads a perturbed weight are re-run.
  public func hessianProduct(_ d: [String: [Float]], step h: Float) throws -> [String: [Float]] {
    var sum: [String: [Float]] = [:]
    for b in batches {
      let base = try reference(b)
      let g = b.graph.graph
      let start = g.nodes.firstIndex { n in n.inputs.contains { d[$0] != nil } } ?? 0
      func shifted(_ sign: Float) throws -> [Float] {
        var o: [String: Tensor] = [:]
        for (name, dv) in d {
          let w = weights[name]!
          let wv = w.floats
          o[name] = Tensor(shape: w.shape, floats: (0..<wv.count).map { wv[$0] + sign * h * dv[$0] })
        }
        return try b.graph.forward(b.feeds, overrides: o, until: logits, start: start, base: base)[logits]!.floats
      }
      let plus = try shifted(1), minus = try shifted(-1)
      let inv = 1 / (2 * h)
      let jd = (0..<plus.count).map { (plus[$0] - minus[$0]) * inv }
      let seed = loss.hessianProduct(reference: b.probabilities, jd)
      accumulate(&sum, try b.graph.backward(base, seeds: [logits: seed], parameters: Set(d.keys)))
    }
    return sum
  }

  /// One sample of every layer's Hessian-block trace from the factored form H = Jᵀ·L·Lᵀ·J
  /// (L·Lᵀ = ∂²L/∂z², per row L = diag(√p) − p·√pᵀ, over √R): for a Rademacher vector r over the
  /// logits, g = Jᵀ·L·r comes from one backward pass and E[‖gᵢ‖²] = Tr(Hᵢᵢ) for every layer i at
  /// once, with no cross-layer terms (each sample is ≥ 0). `sign(count)` supplies r (±1 each).
  public func traceSample(_ sign: (Int) -> [Float]) throws -> [String: Double] {
    var out: [String: Double] = [:]
    let params = Set(layers.map(\.weight))
    let scale = 1 / Float(loss.rows).squareRoot()
    for b in batches {
      let p = b.probabilities
      let r = sign(p.count)
      var seed = [Float](repeating: 0, count: p.count)
      let c = loss.rowLength
      for row in 0..<(p.count / c) {
        let base = row * c
        var dot: Float = 0
        for k in 0..<c { dot += p[base + k].squareRoot() * r[base + k] }
        for k in 0..<c { seed[base + k] = (p[base + k].squareRoot() * r[base + k] - p[base + k] * dot) * scale }
      }
      let g = try b.graph.backward(try reference(b), seeds: [logits: seed], parameters: params)
      for l in layers { out[l.name, default: 0] += g[l.weight]!.reduce(0.0) { $0 + Double($1) * Double($1) } }
    }
    return out
  }

  private func accumulate(_ sum: inout [String: [Float]], _ part: [String: [Float]]) {
    for (k, v) in part {
      if var s = sum[k] { for i in 0..<s.count { s[i] += v[i] }; sum[k] = s } else { sum[k] = v }
    }
  }
}
