import Findings
import Foundation
import TensorCore

extension AnalysisResult.Entry {
  /// The figures of one comparison with FP32, plus the task metric when labels exist.
  public init(_ m: OutputComparison, task: Double? = nil) {
    self.init(kl: m.kl, sqnr: m.sqnr, cosine: m.cosine, agreement: m.agreement, task: task)
  }
}

/// Why analyses cannot be joined or used together.
public enum AnalysisError: Error, CustomStringConvertible, Equatable, Sendable {
  case nothingToMerge
  /// Two parts come from different models or candidate lists.
  case mismatchedParts(first: String, other: String)

  public var description: String {
    switch self {
    case .nothingToMerge: return "nothing to merge"
    case .mismatchedParts(let first, let other):
      return "cannot merge analyses of different models or candidate lists (\(other) vs \(first))"
    }
  }
}

extension AnalysisResult {
  /// Joins shards of one sweep (same model and candidates): each layer once, in model order,
  /// with the proxies' correlations recomputed over the joined layers.
  public static func merge(_ parts: [AnalysisResult]) throws -> AnalysisResult {
    guard var first = parts.first else { throw AnalysisError.nothingToMerge }
    for p in parts.dropFirst() {
      guard p.modelSHA256 == first.modelSHA256, p.candidates == first.candidates else {
        throw AnalysisError.mismatchedParts(first: first.model, other: p.model)
      }
    }
    var seen = Set<String>()
    first.layers = parts.flatMap(\.layers).filter { seen.insert($0.name).inserted }.sorted { $0.index < $1.index }
    first.shard = nil
    first.correlate()
    return first
  }
}
