import Execution
import GraphIR
import TensorCore

/// Cross-layer equalization (data-free quantization): for consecutive convolutions
/// Conv₁ → (ReLU | LeakyReLU | Clip[0, ∞) | nothing) → Conv₂, scale output channel i of Conv₁ by 1/sᵢ and the
/// matching input channel of Conv₂ by sᵢ, with
///
///     sᵢ = √(r₁ᵢ · r₂ᵢ) / r₂ᵢ        r₁ᵢ = max|W₁[i, …]|,  r₂ᵢ = max|W₂[:, i, …]|
///
/// after which both ranges equal √(r₁ᵢ r₂ᵢ). Positive scaling commutes with these activations,
/// so the FP32 function is unchanged while per-tensor/per-channel ranges even out.
public enum Equalization {
  /// A pair the transformation applies to.
  public struct Pair: Sendable {
    public var first: Int, second: Int  // node indices
  }

  /// Pairs in `g`: Conv₁'s output read only by one positively homogeneous activation (or directly)
  /// whose output is read only by Conv₂ (as its data input), Conv₂ ungrouped or depthwise.
  public static func pairs(in g: Graph) -> [Pair] {
    let uses = g.useCounts()
    let outputs = Set(g.outputs.map(\.name))
    var readers: [String: [Int]] = [:]
    for (i, n) in g.nodes.enumerated() { for x in n.inputs where !x.isEmpty { readers[x, default: []].append(i) } }
    func onlyReader(_ name: String) -> Int? {
      guard uses[name] == 1, !outputs.contains(name), let r = readers[name], r.count == 1 else { return nil }
      return r[0]
    }
    var result: [Pair] = []
    for (i, n) in g.nodes.enumerated() where isConv(n, g) {
      guard var next = onlyReader(n.outputs[0]) else { continue }
      var link = n.outputs[0]
      let a = g.nodes[next]
      if a.opType == "Relu" || a.opType == "LeakyRelu" || isPositivelyHomogeneousClip(a, g) {
        guard a.input(0) == link, let after = onlyReader(a.outputs[0]) else { continue }
        link = a.outputs[0]
        next = after
      }
      let c = g.nodes[next]
      guard isConv(c, g), c.input(0) == link else { continue }
      // Weights (and Conv₁'s bias) owned by this pair alone: scaling them changes no other node.
      guard [n.inputs[1], c.inputs[1]].allSatisfy({ uses[$0] == 1 }), n.input(2).map({ uses[$0] == 1 }) ?? true else { continue }
      let groups = c.int("group", default: 1)
      let w1 = g.initializers[n.inputs[1]]!, w2 = g.initializers[c.inputs[1]]!
      let channels = w1.shape[0]
      let ungrouped = groups == 1 && w2.shape[1] == channels
      let depthwise = groups == channels && w2.shape[0] == channels && w2.shape[1] == 1
      guard ungrouped || depthwise else { continue }
      result.append(Pair(first: i, second: next))
    }
    return result
  }

  /// A Clip that rescaling commutes with: no upper bound and a lower bound of 0 or none (a ReLU
  /// in disguise). A finite bound (ReLU6) would have to scale per channel, which one Clip cannot.
  static func isPositivelyHomogeneousClip(_ n: Node, _ g: Graph) -> Bool {
    guard n.opType == "Clip" else { return false }
    func bound(_ i: Int, attribute: String) -> Float? {
      if g.opset < 11 { return n.attributes[attribute] == nil ? nil : n.float(attribute, default: 0) }
      guard let name = n.input(i), !name.isEmpty else { return nil }
      return g.initializers[name].flatMap { $0.count == 1 ? $0.asFloats()[0] : .nan }
    }
    let lo = bound(1, attribute: "min"), hi = bound(2, attribute: "max")
    return (lo == nil || lo == 0) && (hi == nil || hi == .infinity)
  }

  static func isConv(_ n: Node, _ g: Graph) -> Bool {
    n.opType == "Conv" && n.outputs.count == 1 && n.input(1).flatMap { g.initializers[$0] }?.dtype == .float32
      && (n.input(2).map { g.initializers[$0] != nil } ?? true)
  }

  /// The equalized graph (`sweeps` passes over all pairs, so chains settle) and the pairs used.
  ///
  /// - Parameter keep: checks a candidate graph after each pair's first equalization (the caller
  ///   compares FP32 outputs on a few samples); a pair it rejects is undone and skipped — a guard
  ///   against numeric surprises (it caught an underflow in sᵢ for nearly dead channels).
  public static func apply(
    _ graph: Graph, sweeps: Int = 4, only names: [[String]]? = nil, keep: ((Graph) -> Bool)? = nil
  ) -> (graph: Graph, pairs: [[String]]) {
    var g = graph
    var found: [Pair] = []
    for p in pairs(in: g) where names?.contains([g.nodes[p.first].name, g.nodes[p.second].name]) ?? true {
      var candidate = g
      equalize(&candidate, p)
      if let keep, !keep(candidate) { continue }
      g = candidate
      found.append(p)
    }
    for _ in 1..<max(sweeps, 1) {
      for p in found { equalize(&g, p) }
    }
    return (g, found.map { [g.nodes[$0.first].name, g.nodes[$0.second].name] })
  }

  static func equalize(_ g: inout Graph, _ p: Pair) {
    let c1 = g.nodes[p.first], c2 = g.nodes[p.second]
    var w1 = g.initializers[c1.inputs[1]]!, w2 = g.initializers[c2.inputs[1]]!
    var v1 = w1.floats, v2 = w2.floats
    let channels = w1.shape[0], per1 = w1.count / channels
    let depthwise = c2.int("group", default: 1) == channels && channels > 1
    let out2 = w2.shape[0], per2 = w2.count / out2  // per output channel of Conv₂
    let taps2 = depthwise ? per2 : per2 / channels
    var bias1 = c1.input(2).flatMap { g.initializers[$0] }?.floats
    for i in 0..<channels {
      var r1: Float = 0, r2: Float = 0
      for j in 0..<per1 { r1 = max(r1, abs(v1[i * per1 + j])) }
      if depthwise {
        for j in 0..<per2 { r2 = max(r2, abs(v2[i * per2 + j])) }
      } else {
        for o in 0..<out2 { for t in 0..<taps2 { r2 = max(r2, abs(v2[o * per2 + i * taps2 + t])) } }
      }
      // √(r₁r₂)/r₂ = √(r₁/r₂): the product underflows for nearly dead channels (r₁ ~ 1e-30),
      // which made s = 0 and the weights infinite.
      guard r1 > 0, r2 > 0 else { continue }
      let s = (r1 / r2).squareRoot()
      guard s.isNormal, s.isFinite else { continue }
      for j in 0..<per1 { v1[i * per1 + j] /= s }
      bias1?[i] /= s
      if depthwise {
        for j in 0..<per2 { v2[i * per2 + j] *= s }
      } else {
        for o in 0..<out2 { for t in 0..<taps2 { v2[o * per2 + i * taps2 + t] *= s } }
      }
    }
    w1.storage = .float(v1)
    w2.storage = .float(v2)
    g.initializers[c1.inputs[1]] = w1
    g.initializers[c2.inputs[1]] = w2
    if let b = bias1, let name = c1.input(2) { g.initializers[name] = Tensor(shape: [b.count], floats: b) }
  }
}

extension Equalization {
  /// Largest |Δ| between FP32 outputs allowed when checking an equalized graph, relative to the
  /// largest output: rescaling changes float32 rounding only.
  public static let functionTolerance: Float = 1e-4

  /// Equalizes `session`'s model keeping only pairs that leave its FP32 outputs on `feeds`
  /// unchanged (within `functionTolerance`).
  public static func apply(to session: Session, checkingOn feeds: [String: Tensor]) throws -> (session: Session, pairs: [[String]]) {
    let reference = try session.run(feeds)
    let (g, count) = apply(session.graph) { candidate in
      guard let s = try? Session(graph: candidate), let out = try? s.run(feeds) else { return false }
      return reference.allSatisfy { name, t in
        guard let u = out[name], u.count == t.count else { return false }
        let a = t.asFloats(), b = u.asFloats()
        let scale = max(a.map(abs).max() ?? 0, 1e-30)
        return zip(a, b).allSatisfy { abs($0 - $1) <= functionTolerance * scale }
      }
    }
    return (try Session(graph: g), count)
  }
}

/// Bias absorption (data-free quantization, after equalization): when Conv₁'s pre-activation
/// channel i stays above cᵢ > 0 on the calibration data, ReLU(z − cᵢ) = ReLU(z) − cᵢ, so cᵢ moves
/// out of Conv₁'s bias into Conv₂'s:
///
///     b₁ᵢ −= cᵢ,      b₂ₒ += Σ_taps W₂[o, i, taps] · cᵢ
///
/// which shrinks the range of Conv₁'s output (and of Conv₂'s input quantization). Exact where
/// Conv₂'s window lies inside the image (its zero padding does not carry the offset).
public enum BiasAbsorption {
  /// cᵢ per equalized ReLU pair: the smallest value each Conv₁ output channel took on `feeds`,
  /// clamped at 0 (pairs with nothing to absorb are left out).
  public static func measure(_ graph: Graph, pairs names: [[String]], feeds: [String: Tensor]) throws -> [AbsorbedBias] {
    let session = try Session(graph: graph, fuseActivations: false)
    let g = session.graph
    let pairs = Equalization.pairs(in: g).filter { names.contains([g.nodes[$0.first].name, g.nodes[$0.second].name]) }
      .filter { p in g.nodes.contains { $0.opType == "Relu" && $0.input(0) == g.nodes[p.first].outputs[0] } }
      .filter { g.nodes[$0.first].input(2) != nil }
    let watched = Set(pairs.map { g.nodes[$0.first].outputs[0] })
    var minima: [String: [Float]] = [:]
    _ = try session.run(feeds) { node, outputs in
      for (i, name) in node.outputs.enumerated() where watched.contains(name) && i < outputs.count {
        let t = outputs[i], c = t.shape[1], plane = t.count / (t.shape[0] * c)
        var m = minima[name] ?? [Float](repeating: .infinity, count: c)
        let v = t.asFloats()
        for j in v.indices { let ch = (j / plane) % c; m[ch] = min(m[ch], v[j]) }
        minima[name] = m
      }
    }
    return pairs.compactMap { p in
      let c1 = g.nodes[p.first]
      guard let m = minima[c1.outputs[0]] else { return nil }
      let shift = m.map { $0.isFinite ? max(0, $0) : 0 }
      guard shift.contains(where: { $0 > 0 }) else { return nil }
      return AbsorbedBias(first: c1.name, second: g.nodes[p.second].name, shift: shift)
    }
  }

  /// Moves each recorded cᵢ from Conv₁'s bias into Conv₂'s.
  public static func apply(_ graph: Graph, _ absorbed: [AbsorbedBias]) -> Graph {
    var g = graph
    for a in absorbed {
      guard let i1 = g.nodes.firstIndex(where: { $0.name == a.first }), let i2 = g.nodes.firstIndex(where: { $0.name == a.second }),
        let b1Name = g.nodes[i1].input(2), var b1 = g.initializers[b1Name]?.floats, b1.count == a.shift.count,
        let w2t = g.initializers[g.nodes[i2].inputs[1]]
      else { continue }
      let c2 = g.nodes[i2], w2 = w2t.floats, out2 = w2t.shape[0], per2 = w2.count / out2, channels = a.shift.count
      let depthwise = c2.int("group", default: 1) == channels && channels > 1
      var b2 = c2.input(2).flatMap { g.initializers[$0] }?.floats ?? [Float](repeating: 0, count: out2)
      for i in 0..<channels { b1[i] -= a.shift[i] }
      for o in 0..<out2 {
        if depthwise {
          b2[o] += (0..<per2).reduce(Float(0)) { $0 + w2[o * per2 + $1] } * a.shift[o]
        } else {
          let taps = per2 / channels
          for i in 0..<channels { b2[o] += (0..<taps).reduce(Float(0)) { $0 + w2[o * per2 + i * taps + $1] } * a.shift[i] }
        }
      }
      g.initializers[b1Name] = Tensor(shape: [channels], floats: b1)
      let b2Name = c2.input(2) ?? "\(c2.name)_absorbed_bias"
      g.initializers[b2Name] = Tensor(shape: [out2], floats: b2)
      if c2.input(2) == nil { g.nodes[i2].inputs.append(b2Name) }
    }
    return g
  }
}
