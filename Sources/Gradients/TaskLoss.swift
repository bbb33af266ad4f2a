import Foundation

/// Losses against labels, on logits (the input of the model's final Softmax): cross-entropy for
/// class ids, CTC for label sequences (blank = class 0, as PaddleOCR's recognizers use it).
/// Each returns the mean loss and its gradient with respect to the logits.
public enum TaskLoss {
  /// Row-wise log-softmax in Double.
  static func logSoftmax(_ z: ArraySlice<Float>) -> [Double] {
    let m = Double(z.max() ?? 0)
    let lse = m + log(z.reduce(0.0) { $0 + exp(Double($1) - m) })
    return z.map { Double($0) - lse }
  }

  /// Mean cross-entropy of rows of `logits` (`rowLength` classes) against `labels` (one class id
  /// per row; ids outside the classes are skipped); ∂L/∂z = (softmax(z) − onehot) / rows.
  public static func crossEntropy(logits z: [Float], rowLength c: Int, labels: [Int]) -> (loss: Double, gradient: [Float]) {
    let rows = z.count / max(c, 1)
    var grad = [Float](repeating: 0, count: z.count), loss = 0.0
    for r in 0..<min(rows, labels.count) where (0..<c).contains(labels[r]) {
      let lp = logSoftmax(z[(r * c)..<((r + 1) * c)])
      loss -= lp[labels[r]]
      for k in 0..<c { grad[r * c + k] = Float(exp(lp[k]) - (k == labels[r] ? 1 : 0)) / Float(rows) }
    }
    return (loss / Double(max(rows, 1)), grad)
  }

  static func logAdd(_ a: Double, _ b: Double) -> Double {
    if a == -.infinity { return b }
    if b == -.infinity { return a }
    return max(a, b) + log1p(exp(-abs(a - b)))
  }

  /// Mean CTC loss −log p(label | x) of `logits` [N, steps, classes] over the samples, by the
  /// forward–backward recursions in log space; ∂L/∂z_tk = (softmax(z)_tk − posterior_t(k)) / N.
  /// A label that cannot be aligned in `steps` frames contributes nothing.
  public static func ctc(logits z: [Float], steps t: Int, classes c: Int, labels: [[Int]]) -> (loss: Double, gradient: [Float]) {
    guard t > 0, c > 0 else { return (0, [Float](repeating: 0, count: z.count)) }
    let n = z.count / (t * c)
    var grad = [Float](repeating: 0, count: z.count), total = 0.0
    for i in 0..<min(n, labels.count) {
      // The label with blanks around and between its symbols.
      var ext = [0]
      for k in labels[i] { ext += [k, 0] }
      let s = ext.count
      let lp = (0..<t).map { logSoftmax(z[((i * t + $0) * c)..<((i * t + $0 + 1) * c)]) }
      func skip(_ j: Int) -> Bool { j >= 2 && ext[j] != 0 && ext[j] != ext[j - 2] }
      var alpha = [[Double]](repeating: [Double](repeating: -.infinity, count: s), count: t)
      var beta = alpha
      alpha[0][0] = lp[0][ext[0]]
      if s > 1 { alpha[0][1] = lp[0][ext[1]] }
      for f in 1..<max(t, 1) {
        for j in 0..<s {
          var a = alpha[f - 1][j]
          if j >= 1 { a = logAdd(a, alpha[f - 1][j - 1]) }
          if skip(j) { a = logAdd(a, alpha[f - 1][j - 2]) }
          alpha[f][j] = a + lp[f][ext[j]]
        }
      }
      beta[t - 1][s - 1] = lp[t - 1][ext[s - 1]]
      if s > 1 { beta[t - 1][s - 2] = lp[t - 1][ext[s - 2]] }
      for f in stride(from: t - 2, through: 0, by: -1) {
        for j in 0..<s {
          var b = beta[f + 1][j]
          if j + 1 < s { b = logAdd(b, beta[f + 1][j + 1]) }
          if j + 2 < s, skip(j + 2) { b = logAdd(b, beta[f + 1][j + 2]) }
          beta[f][j] = b + lp[f][ext[j]]
        }
      }
      let logP = s > 1 ? logAdd(alpha[t - 1][s - 1], alpha[t - 1][s - 2]) : alpha[t - 1][0]
      guard logP.isFinite else { continue }
      total -= logP
      for f in 0..<t {
        var posterior = [Double](repeating: -.infinity, count: c)
        for j in 0..<s { posterior[ext[j]] = logAdd(posterior[ext[j]], alpha[f][j] + beta[f][j] - lp[f][ext[j]]) }
        let base = (i * t + f) * c
        for k in 0..<c { grad[base + k] = Float(exp(lp[f][k]) - exp(posterior[k] - logP)) / Float(n) }
      }
    }
    return (total / Double(max(n, 1)), grad)
  }
}
