import Foundation

/// The label-free loss: KL divergence from the FP32 model's output distribution to the model's,
/// per row of logits (the last axis), averaged over rows.
///
///     L(z) = (1/R) Σ_rows Σ_k p_k · log(p_k / softmax(z)_k)      p = the FP32 distribution
///     ∂L/∂z = (softmax(z) − p) / R
///     ∂²L/∂z² at the FP32 logits = (diag(p) − p·pᵀ) / R   per row
///
/// At the FP32 weights the loss is 0 and its gradient vanishes, so the Hessian with respect to the
/// weights is exactly the Gauss–Newton matrix Jᵀ·(∂²L/∂z²)·J.
public struct DistillationLoss: Sendable {
  /// Length of one row of logits (the classes).
  public let rowLength: Int
  /// R: the rows the loss averages over (all batches together).
  public let rows: Int

  public init(rowLength: Int, rows: Int) {
    self.rowLength = max(rowLength, 1)
    self.rows = max(rows, 1)
  }

  /// Row-wise softmax.
  public static func softmax(_ z: [Float], rowLength: Int) -> [Float] {
    var p = z
    for r in 0..<(z.count / max(rowLength, 1)) {
      let base = r * rowLength
      var m = -Float.infinity
      for k in 0..<rowLength { m = max(m, z[base + k]) }
      var s: Double = 0
      for k in 0..<rowLength { let e = exp(z[base + k] - m); p[base + k] = e; s += Double(e) }
      let inv = Float(1 / s)
      for k in 0..<rowLength { p[base + k] *= inv }
    }
    return p
  }

  /// The loss of logits `z` (one batch's share) against reference probabilities `p`, and ∂L/∂z.
  public func value(logits z: [Float], reference p: [Float]) -> (loss: Double, gradient: [Float]) {
    let q = Self.softmax(z, rowLength: rowLength)
    var loss: Double = 0
    var grad = [Float](repeating: 0, count: z.count)
    let inv = 1 / Float(rows)
    for i in 0..<z.count {
      if p[i] > 0 { loss += Double(p[i]) * (log(Double(p[i])) - log(max(Double(q[i]), 1e-45))) }
      grad[i] = (q[i] - p[i]) * inv
    }
    return (loss / Double(rows), grad)
  }

  /// (∂²L/∂z²)·u at the reference: per row (p⊙u − p·(pᵀu)) / R.
  public func hessianProduct(reference p: [Float], _ u: [Float]) -> [Float] {
    var out = [Float](repeating: 0, count: u.count)
    let inv = 1 / Float(rows)
    for r in 0..<(u.count / rowLength) {
      let base = r * rowLength
      var dot: Float = 0
      for k in 0..<rowLength { dot += p[base + k] * u[base + k] }
      for k in 0..<rowLength { out[base + k] = p[base + k] * (u[base + k] - dot) * inv }
    }
    return out
  }
}
