import Findings
import Foundation
import TensorCore

extension AnalysisResult.Entry {
  /// The figures of one comparison with FP32, plus the task metric when labels exist.
  public init(_ m: OutputComparison, task: Double? = nil) {
    self.init(damage: m.damage, sqnr: m.sqnr, cosine: m.cosine, agreement: m.agreement, task: task)
  }
}

/// Why analyses cannot be joined or used together.
public enum AnalysisError: Error, CustomStringConvertible, Equatable, Sendable {
  case nothingToMerge
  /// Two parts come from different models, candidate lists or sample counts.
  case mismatchedParts(first: String, other: String)
  /// A part that is not a shard (`analyze` without `--shard`).
  case notAShard(model: String)
  /// Parts of different splits (k/n with different n), or one shard given twice.
  case mixedSplits(String, String)
  case duplicateShard(String)
  /// Shards missing from a split of `count`.
  case missingShards([Int], of: Int)

  public var description: String {
    switch self {
    case .nothingToMerge: return "nothing to merge"
    case .mismatchedParts(let first, let other):
      return "cannot merge analyses of different models, candidate lists, sample counts or compared outputs (\(other) vs \(first))"
    case .notAShard(let model):
      return "an analysis of \(model) is not a shard (made without --shard); merge only the parts of one `analyze --shard k/n` split"
    case .mixedSplits(let a, let b): return "shards \(a) and \(b) belong to different splits; merge the parts of one split"
    case .duplicateShard(let s): return "shard \(s) is given twice; give each shard once"
    case .missingShards(let missing, let n):
      return "shards \(missing.map { "\($0)/\(n)" }.joined(separator: ", ")) are missing; merge every shard of the split"
    }
  }
}

extension AnalysisResult {
  /// Joins the shards of one split sweep (every shard k/n once, same model, candidates and
  /// samples): each layer once, in model order, with the proxies' correlations recomputed over
  /// the joined layers.
  public static func merge(_ parts: [AnalysisResult]) throws -> AnalysisResult {
    guard var first = parts.first else { throw AnalysisError.nothingToMerge }
    var seen: [Int: String] = [:]
    var count: Int? = nil
    for p in parts {
      guard p.modelSHA256 == first.modelSHA256, p.candidates == first.candidates, p.samples == first.samples,
        p.outputs == first.outputs, p.weightGranularity == first.weightGranularity,
        p.activationRanges == first.activationRanges else {
        throw AnalysisError.mismatchedParts(first: first.model, other: p.model)
      }
      guard let s = p.shard, let (k, n) = parseShard(s) else { throw AnalysisError.notAShard(model: p.model) }
      if let count, count != n { throw AnalysisError.mixedSplits(first.shard ?? "", s) }
      count = n
      guard seen.updateValue(s, forKey: k) == nil else { throw AnalysisError.duplicateShard(s) }
    }
    let n = count ?? 0
    let missing = (1...max(n, 1)).filter { seen[$0] == nil }
    guard missing.isEmpty else { throw AnalysisError.missingShards(missing, of: n) }
    var names = Set<String>()
    first.layers = parts.flatMap(\.layers).filter { names.insert($0.name).inserted }.sorted { $0.index < $1.index }
    first.shard = nil
    first.correlate()
    return first
  }

  /// "k/n" with 1 ≤ k ≤ n.
  public static func parseShard(_ text: String) -> (index: Int, count: Int)? {
    let v = text.split(separator: "/").map { Int($0) }
    guard v.count == 2, let k = v[0], let n = v[1], n > 0, (1...n).contains(k) else { return nil }
    return (k, n)
  }
}
