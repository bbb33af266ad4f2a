import Findings
import Foundation
import TensorCore

/// How far the compared outputs moved from the FP32 reference.
public struct OutputComparison: Codable, Equatable, Sendable {
  /// The damage the solver sums: per output the measure of its kind (`OutputKind`), summed over
  /// the compared outputs. Each is dimensionless, 0 when unchanged and second order in a small
  /// error (KL ≈ ½ δᵀFδ, 1 − cos ≈ ½ ‖δ⊥‖²/‖y‖², relative error ‖δ‖²/‖y‖²), so they add.
  public var damage: Double
  /// Signal-to-quantization-noise ratio over every compared value, 10·log10(Σy² / Σ(y − ŷ)²),
  /// in dB (∞ when identical).
  public var sqnr: Double
  /// Cosine similarity of all compared values.
  public var cosine: Double
  /// Mean over outputs of the fraction of decisions unchanged: the row's argmax for
  /// distributions and logits, each element's side of 0.5 for sigmoid maps, a row cosine of at
  /// least 0.99 for embeddings and regressions.
  public var agreement: Double

  public init(damage: Double, sqnr: Double, cosine: Double, agreement: Double) {
    self.damage = damage
    self.sqnr = sqnr
    self.cosine = cosine
    self.agreement = agreement
  }

  /// Compares one output with its reference (same shape) as `kind`.
  public static func of(_ output: Tensor, reference: Tensor, kind: OutputKind = .logits) -> OutputComparison {
    var a = Accumulator(kind: kind)
    a.add(output, reference: reference)
    return OutputComparison.combining([a])
  }

  /// One comparison over several outputs' accumulators: damages summed, SQNR and cosine over
  /// all values, agreement averaged.
  public static func combining(_ parts: [Accumulator]) -> OutputComparison {
    let signal = parts.reduce(0) { $0 + $1.signal }, noise = parts.reduce(0) { $0 + $1.noise }
    let ab = parts.reduce(0) { $0 + $1.ab }, bb = parts.reduce(0) { $0 + $1.bb }
    return OutputComparison(
      damage: parts.reduce(0) { $0 + $1.damage },
      sqnr: noise > 0 ? 10 * log10(signal / noise) : .infinity,
      cosine: signal > 0 && bb > 0 ? ab / (signal * bb).squareRoot() : (signal == bb ? 1 : 0),
      agreement: parts.isEmpty ? 1 : parts.reduce(0) { $0 + $1.agreement } / Double(parts.count))
  }

  /// The sums behind one output's figures, so batches can be compared one at a time and joined.
  public struct Accumulator: Sendable {
    public let kind: OutputKind
    var signal = 0.0, noise = 0.0, ab = 0.0, bb = 0.0
    /// Σ of the kind's per-unit measure, its units (rows or elements), decisions kept.
    var measure = 0.0, units = 0, agree = 0, decisions = 0

    public init(kind: OutputKind) { self.kind = kind }

    public mutating func add(_ output: Tensor, reference: Tensor) {
      let a = reference.asFloats(), b = output.asFloats()
      let width = max(reference.shape.last ?? 1, 1)
      for i in a.indices {
        let x = Double(a[i]), y = Double(b[i])
        signal += x * x
        noise += (x - y) * (x - y)
        ab += x * y
        bb += y * y
      }
      switch kind {
      case .probs, .logits:
        for r in 0..<(a.count / width) {
          let rows = (r * width)..<((r + 1) * width)
          let p = Self.distribution(a[rows], kind), q = Self.distribution(b[rows], kind)
          for c in 0..<width where p[c] > 0 { measure += p[c] * log(p[c] / max(q[c], 1e-30)) }
          if Self.argmax(p) == Self.argmax(q) { agree += 1 }
        }
        units += a.count / width
        decisions += a.count / width
      case .sigmoid:
        let eps = 1e-7
        for i in a.indices {
          let p = min(max(Double(a[i]), eps), 1 - eps), q = min(max(Double(b[i]), eps), 1 - eps)
          measure += p * log(p / q) + (1 - p) * log((1 - p) / (1 - q))
          if (a[i] >= 0.5) == (b[i] >= 0.5) { agree += 1 }
        }
        units += a.count
        decisions += a.count
      case .embedding, .regression:
        for r in 0..<(a.count / width) {
          var xy = 0.0, xx = 0.0, yy = 0.0, err = 0.0
          for i in (r * width)..<((r + 1) * width) {
            let x = Double(a[i]), y = Double(b[i])
            xy += x * y
            xx += x * x
            yy += y * y
            err += (x - y) * (x - y)
          }
          let cos = xx > 0 && yy > 0 ? xy / (xx * yy).squareRoot() : (err == 0 ? 1 : 0)
          if kind == .embedding { measure += 1 - cos }
          if cos >= 0.99 { agree += 1 }
        }
        units += a.count / width
        decisions += a.count / width
      }
    }

    /// This output's damage: the mean measure per unit; for regressions Σ(y − ŷ)² / Σy².
    public var damage: Double {
      if kind == .regression { return signal > 0 ? noise / signal : (noise > 0 ? noise / Double(max(units, 1)) : 0) }
      return units > 0 ? max(measure / Double(units), 0) : 0
    }

    var agreement: Double { decisions > 0 ? Double(agree) / Double(decisions) : 1 }

    /// The row as probabilities: for probs itself renormalised (a quantized softmax may be off
    /// by rounding), for logits its softmax.
    static func distribution(_ row: ArraySlice<Float>, _ kind: OutputKind) -> [Double] {
      if kind == .probs {
        let sum = row.reduce(0.0) { $0 + max(Double($1), 0) }
        if sum > 0 { return row.map { max(Double($0), 0) / sum } }
      }
      let m = Double(row.max() ?? 0)
      let e = row.map { exp(Double($0) - m) }
      let s = e.reduce(0, +)
      return e.map { $0 / s }
    }

    static func argmax(_ v: [Double]) -> Int { v.indices.max { v[$0] < v[$1] } ?? 0 }
  }

  /// Accumulators for every compared output, fed whole model outputs batch by batch.
  public struct Outputs: Sendable {
    public let outputs: [ComparedOutput]
    var parts: [Accumulator]

    public init(_ outputs: [ComparedOutput]) {
      self.outputs = outputs
      parts = outputs.map { Accumulator(kind: $0.kind) }
    }

    public mutating func add(_ output: [String: Tensor], reference: [String: Tensor]) throws {
      for (i, o) in outputs.enumerated() {
        guard let y = output[o.name], let x = reference[o.name] else { throw PlanError("the model produced no '\(o.name)'") }
        guard y.shape == x.shape else { throw PlanError("output '\(o.name)' has shape \(y.shape), FP32's \(x.shape)") }
        parts[i].add(y, reference: x)
      }
    }

    public var result: OutputComparison { OutputComparison.combining(parts) }
    /// Each output's own damage, by name.
    public var damages: [String: Double] {
      Dictionary(uniqueKeysWithValues: zip(outputs, parts).map { ($0.name, $1.damage) })
    }
  }
}
