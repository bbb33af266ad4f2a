import Foundation
import TensorCore

/// Why `Tuning.run` cannot give a plan, in the budget's own terms and with the value that would
/// work. Callers decide on the case, never on the message.
public enum TuningError: Error, CustomStringConvertible, Equatable, Sendable {
  case noBudget
  /// A size or compression budget below the smallest model (every layer at its smallest
  /// precision): its weight + scale bytes and compression.
  case sizeUnreachable(smallestBytes: Int, compression: Double)
  case bitsUnreachable(smallestAverageBits: Double)
  /// A latency budget below the fastest assignment at this batch.
  case latencyUnreachable(fastestMs: Double, batch: Int)
  /// `--max-drop` without labels to measure the drop on.
  case maxDropNeedsLabels
  /// `--objective hessian|blend` on an analysis without Hessian figures.
  case objectiveNeedsHessian(objective: String)
  /// An analysis that lacks layers the model has (a single shard, another model version).
  case analysisMissesLayers(count: Int, first: String)
  /// The solver ended without an assignment.
  case noAssignment(String)

  public var description: String {
    switch self {
    case .noBudget:
      return "give a budget: --size-budget, --compression, --avg-bits, --latency-budget and/or --max-drop"
    case .sizeUnreachable(let bytes, let compression):
      return String(format: "budget not reachable: the smallest model (every layer at its smallest precision) has %@ of weights + scales, compression %.2fx",
        formatBytes(bytes), compression)
    case .bitsUnreachable(let bits):
      return String(format: "average-bits budget not reachable: the smallest is %.2f bits per weight", bits)
    case .latencyUnreachable(let ms, let batch):
      return String(format: "latency budget not reachable: the fastest assignment takes %.3f ms at batch %d", ms, batch)
    case .maxDropNeedsLabels:
      return "--max-drop needs labels (labels.npy or labels.txt) in the evaluation folder"
    case .objectiveNeedsHessian(let objective):
      return "objective '\(objective)' needs Hessian scores: run `mixprec analyze --hessian` (or tune without --analysis)"
    case .analysisMissesLayers(let count, let first):
      return "the analysis has no figures for \(count) of the model's layers (first: '\(first)'); merge every shard or analyze the whole model"
    case .noAssignment(let reason):
      return reason
    }
  }
}
