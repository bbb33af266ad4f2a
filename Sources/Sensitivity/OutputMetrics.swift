import Foundation
import TensorCore

/// How far a model output moved from the FP32 reference (rows = all axes but the last).
public struct OutputComparison: Codable, Equatable, Sendable {
  /// Mean over rows of KL(softmax(reference) ‖ softmax(output)), in nats. Outputs that are
  /// already probabilities (rows summing to 1) are used as they are.
  public var kl: Double
  /// Signal-to-quantization-noise ratio, 10·log10(Σy² / Σ(y − ŷ)²), in dB (∞ when identical).
  public var sqnr: Double
  /// Cosine similarity of the whole output.
  public var cosine: Double
  /// Fraction of rows whose argmax is unchanged.
  public var agreement: Double

  public init(kl: Double, sqnr: Double, cosine: Double, agreement: Double) {
    self.kl = kl
    self.sqnr = sqnr
    self.cosine = cosine
    self.agreement = agreement
  }

  /// Compares `output` with `reference` (same shape).
  public static func of(_ output: Tensor, reference: Tensor) -> OutputComparison {
    var a = Accumulator()
    a.add(output, reference: reference)
    return a.result
  }

  /// The sums behind the figures, so batches can be compared one at a time and joined.
  public struct Accumulator: Sendable {
    var signal = 0.0, noise = 0.0, ab = 0.0, bb = 0.0, kl = 0.0
    var agree = 0, rows = 0

    public init() {}

    public mutating func add(_ output: Tensor, reference: Tensor) {
      let a = reference.asFloats(), b = output.asFloats()
      let classes = max(reference.shape.last ?? 1, 1)
      for i in a.indices {
        let x = Double(a[i]), y = Double(b[i])
        signal += x * x
        noise += (x - y) * (x - y)
        ab += x * y
        bb += y * y
      }
      for r in 0..<(a.count / classes) {
        let p = distribution(a[(r * classes)..<((r + 1) * classes)]), q = distribution(b[(r * classes)..<((r + 1) * classes)])
        for c in 0..<classes where p[c] > 0 { kl += p[c] * log(p[c] / max(q[c], 1e-30)) }
        if argmax(p) == argmax(q) { agree += 1 }
        rows += 1
      }
    }

    public var result: OutputComparison {
      OutputComparison(
        kl: rows > 0 ? kl / Double(rows) : 0,
        sqnr: noise > 0 ? 10 * log10(signal / noise) : .infinity,
        cosine: signal > 0 && bb > 0 ? ab / (signal * bb).squareRoot() : (signal == bb ? 1 : 0),
        agreement: rows > 0 ? Double(agree) / Double(rows) : 1)
    }
  }

  /// The row as probabilities: itself when it already is one, its softmax otherwise.
  static func distribution(_ row: ArraySlice<Float>) -> [Double] {
    let sum = row.reduce(0.0) { $0 + Double($1) }
    if row.allSatisfy({ $0 >= 0 }) && abs(sum - 1) < 1e-3 { return row.map { Double($0) / sum } }
    let m = Double(row.max() ?? 0)
    let e = row.map { exp(Double($0) - m) }
    let s = e.reduce(0, +)
    return e.map { $0 / s }
  }

  static func argmax(_ v: [Double]) -> Int { v.indices.max { v[$0] < v[$1] } ?? 0 }
}
