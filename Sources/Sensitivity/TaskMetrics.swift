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
}
