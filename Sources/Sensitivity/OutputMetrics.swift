import Findings
import Foundation
import Kernels
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
    /// Σ of the kind's per-unit measure, its units (rows, or elements for sigmoid maps: one
    /// decision each), decisions kept.
    var measure = 0.0, units = 0, agree = 0

    public init(kind: OutputKind) { self.kind = kind }

    /// Adds one batch. Rows are summed in fixed blocks of 64 (in parallel when large), the
    /// blocks in order, so the figures do not depend on the thread count.
    public mutating func add(_ output: Tensor, reference: Tensor) {
      let a = reference.asFloats(), b = output.asFloats()
      let width = max(reference.shape.last ?? 1, 1), rows = a.count / width
      let blockRows = 64, blocks = (rows + blockRows - 1) / blockRows
      var parts = [Partial](repeating: Partial(), count: blocks)
      let kind = self.kind
      a.withUnsafeBufferPointer { x in
        b.withUnsafeBufferPointer { y in
          parts.withUnsafeMutableBufferPointer { out in
            let out = out
            Parallel.forEach(blocks, costPerItem: blockRows * width * 20) { k in
              var part = Partial()
              for r in (k * blockRows)..<min((k + 1) * blockRows, rows) {
                part.add(row: UnsafeBufferPointer(rebasing: x[(r * width)..<((r + 1) * width)]),
                         UnsafeBufferPointer(rebasing: y[(r * width)..<((r + 1) * width)]), kind: kind)
              }
              out[k] = part
            }
          }
        }
      }
      for part in parts {
        signal += part.signal
        noise += part.noise
        ab += part.ab
        bb += part.bb
        measure += part.measure
        agree += part.agree
      }
      let perRow = kind == .sigmoid ? width : 1
      units += rows * perRow
    }

    /// The sums of a block of rows.
    struct Partial {
      var signal = 0.0, noise = 0.0, ab = 0.0, bb = 0.0, measure = 0.0, agree = 0

      /// One row: x the FP32 values, y the quantized ones; one pass, no copies.
      mutating func add(row x: UnsafeBufferPointer<Float>, _ y: UnsafeBufferPointer<Float>, kind: OutputKind) {
        let sums = Divergence.rowSums(x, y)
        let xx = sums.xx, yy = sums.yy, xy = sums.xy, err = sums.squaredError
        signal += xx
        bb += yy
        ab += xy
        noise += err
        switch kind {
        case .probs:
          // KL of the renormalised rows: Σ p·log(x/y) + log(Σy/Σx), one log per element.
          let sx = sums.positiveX, sy = sums.positiveY
          if sx > 0 && sy > 0 {
            let kl = Divergence.probsTerms(x, y, floor: 1e-30 * sy)
            measure += max(kl / sx + log(sy / sx), 0)
          }
          if Self.argmax(x) == Self.argmax(y) { agree += 1 }
        case .logits:
          // log p = x − mx − log Σe^(x−mx), so KL = Σ p·(x − y) − (mx + log Sx) + (my + log Sy).
          let mx = Double(x.max() ?? 0), my = Double(y.max() ?? 0)
          var sx = 0.0, sy = 0.0, pd = 0.0
          for i in x.indices {
            let e = exp(Double(x[i]) - mx)
            sx += e
            pd += e * (Double(x[i]) - Double(y[i]))
            sy += exp(Double(y[i]) - my)
          }
          measure += max(pd / sx - (mx + log(sx)) + (my + log(sy)), 0)
          if Self.argmax(x) == Self.argmax(y) { agree += 1 }
        case .sigmoid:
          measure += Divergence.bernoulliTerms(x, y, eps: 1e-7)
          for i in x.indices where (x[i] >= 0.5) == (y[i] >= 0.5) { agree += 1 }
        case .embedding, .regression:
          let cos = xx > 0 && yy > 0 ? xy / (xx * yy).squareRoot() : (err == 0 ? 1 : 0)
          if kind == .embedding { measure += 1 - cos }
          if cos >= 0.99 { agree += 1 }
        }
      }

      /// The first index of the largest value (NaN never wins).
      static func argmax(_ v: UnsafeBufferPointer<Float>) -> Int {
        var best = 0
        for i in v.indices where v[i] > v[best] { best = i }
        return best
      }
    }

    /// This output's damage: the mean measure per unit; for regressions Σ(y − ŷ)² / Σy².
    public var damage: Double {
      if kind == .regression { return signal > 0 ? noise / signal : (noise > 0 ? noise / Double(max(units, 1)) : 0) }
      return units > 0 ? max(measure / Double(units), 0) : 0
    }

    var agreement: Double { units > 0 ? Double(agree) / Double(units) : 1 }
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
