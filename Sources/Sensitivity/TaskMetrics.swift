import TensorCore

/// Task metrics computed from model outputs and labels (DESIGN.md, Metrics).
public enum TaskMetrics {
  /// Index of the largest value in each row of the last axis.
  public static func argmaxRows(_ t: Tensor) -> [Int] {
    let classes = t.shape.last ?? 1
    let v = t.asFloats()
    guard classes > 0 else { return [] }
    return (0..<(v.count / classes)).map { r in
      var best = 0
      for c in 1..<classes where v[r * classes + c] > v[r * classes + best] { best = c }
      return best
    }
  }

  /// Fraction of samples whose argmax over the last axis equals the label (`top1`).
  /// - Parameters:
  ///   - output: N × classes scores or probabilities.
  ///   - labels: N class ids.
  public static func top1(_ output: Tensor, labels: [Int]) -> Double {
    let predicted = argmaxRows(output)
    guard !labels.isEmpty, predicted.count == labels.count else { return .nan }
    return Double(zip(predicted, labels).filter { $0 == $1 }.count) / Double(labels.count)
  }

  /// Greedy CTC decoding as PaddleOCR does it: argmax per position, merge repeats, drop blanks.
  ///
  ///     classes = [blank] + dictionary lines + [" "]
  ///
  /// - Parameters:
  ///   - output: N × T × classes probabilities.
  ///   - dictionary: the model's `character` metadata (one symbol per line).
  public static func ctcDecode(_ output: Tensor, dictionary: String) -> [String] {
    let symbols = ["<blank>"] + dictionary.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) + [" "]
    let steps = output.shape.count >= 2 ? output.shape[output.shape.count - 2] : 1
    let ids = argmaxRows(output)
    return stride(from: 0, to: ids.count, by: max(steps, 1)).map { start in
      var text = "", previous = 0
      for id in ids[start..<min(start + steps, ids.count)] {
        if id != previous && id != 0 && id < symbols.count { text += symbols[id] }
        previous = id
      }
      return text
    }
  }

  /// Exact-match rate and character error rate (edit distance / reference length, summed), with
  /// spaces ignored as PaddleOCR's recognition metric does by default (`ignore_space`): on
  /// rendered lines the FP32 recognizer's errors are mostly spaces read from the margins.
  public static func textAccuracy(predicted: [String], references: [String]) -> (exactMatch: Double, cer: Double) {
    guard !references.isEmpty, predicted.count == references.count else { return (.nan, .nan) }
    var exact = 0, edits = 0, chars = 0
    func squeezed(_ s: String) -> String { s.filter { $0 != " " } }
    for (p, r) in zip(predicted.map(squeezed), references.map(squeezed)) {
      if p == r { exact += 1 }
      edits += editDistance(Array(p), Array(r))
      chars += r.count
    }
    return (Double(exact) / Double(references.count), Double(edits) / Double(max(chars, 1)))
  }

  /// Levenshtein distance (insertions, deletions, substitutions cost 1).
  public static func editDistance<T: Equatable>(_ a: [T], _ b: [T]) -> Int {
    if a.isEmpty { return b.count }
    var row = Array(0...b.count)
    for i in 1...a.count {
      var diagonal = row[0]
      row[0] = i
      for j in 1...max(b.count, 1) where j <= b.count {
        let up = row[j]
        row[j] = min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1))
        diagonal = up
      }
    }
    return row[b.count]
  }

  /// Mean over rows (every axis but the last) of cos(a_row, b_row); a zero row against a zero
  /// row counts 1, against anything else 0.
  public static func meanCosine(_ a: Tensor, _ b: Tensor) -> Double {
    let x = a.asFloats(), y = b.asFloats()
    guard let width = a.shape.last, width > 0, x.count == y.count, !x.isEmpty else { return 0 }
    let rows = x.count / width
    var total = 0.0
    for r in 0..<rows { total += cosine(x[(r * width)..<((r + 1) * width)], y[(r * width)..<((r + 1) * width)]) }
    return total / Double(rows)
  }

  static func cosine(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Double {
    var dot = 0.0, na = 0.0, nb = 0.0
    for (u, v) in zip(a, b) { dot += Double(u) * Double(v); na += Double(u) * Double(u); nb += Double(v) * Double(v) }
    if na == 0 || nb == 0 { return na == nb ? 1 : 0 }
    return dot / (na.squareRoot() * nb.squareRoot())
  }

  /// Spearman correlation between the samples' pairwise cosine similarities under `a` and
  /// under `b` (each sample flattened): whether a quantized encoder still ranks pairs of inputs
  /// as FP32 does. 1 with fewer than three samples (no ranking to keep).
  public static func pairwiseSimilaritySpearman(_ a: Tensor, _ b: Tensor) -> Double {
    let n = a.shape.first ?? 0
    guard n >= 3, a.count == b.count, a.count > 0 else { return 1 }
    let per = a.count / n, x = a.asFloats(), y = b.asFloats()
    var sa: [Double] = [], sb: [Double] = []
    for i in 0..<n {
      for j in (i + 1)..<n {
        sa.append(cosine(x[(i * per)..<((i + 1) * per)], x[(j * per)..<((j + 1) * per)]))
        sb.append(cosine(y[(i * per)..<((i + 1) * per)], y[(j * per)..<((j + 1) * per)]))
      }
    }
    return ProxyScores.spearman(sa, sb)
  }

  /// Mean over samples (axis 0) of |A ∩ B| / |A ∪ B| with A = {a > threshold}, B = {b > threshold};
  /// a sample where both masks are empty counts 1.
  public static func meanMaskIoU(_ a: Tensor, _ b: Tensor, threshold: Float) -> Double {
    let n = a.shape.first ?? 0
    guard n > 0, a.count == b.count else { return 0 }
    let per = a.count / n, x = a.asFloats(), y = b.asFloats()
    var total = 0.0
    for s in 0..<n {
      var both = 0, either = 0
      for i in (s * per)..<((s + 1) * per) {
        let p = x[i] > threshold, q = y[i] > threshold
        if p && q { both += 1 }
        if p || q { either += 1 }
      }
      total += either == 0 ? 1 : Double(both) / Double(either)
    }
    return total / Double(n)
  }
}
