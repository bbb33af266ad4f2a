import Allocation
import Findings
import Foundation
import Sensitivity
import TensorCore

/// `bench sweep`: the screened sweep against the full one on the same model, samples and budget,
/// each inside a whole `tune`: how many pairs it measured, the time, how well its per-layer
/// damages at the lowest candidate rank like the full sweep's (Spearman), and both plans'
/// measured metric with the full plan's standard error.
public enum SweepBenchmark {
  public struct Run {
    public var mode: Tuning.SweepMode
    public var sweepSeconds: Double, totalSeconds: Double
    public var measuredPairs: Int, totalPairs: Int
    public var chosen: TuningSummary.Point
    public var damages: [String: Double]
  }

  public struct Result {
    public var full: Run, screened: Run
    /// Precision whose damages are ranked (the lowest candidate).
    public var precision: String
    public var spearman: Double
    /// The full plan's metric's standard error (a proportion over the evaluation samples), nil without labels.
    public var standardError: Double?
    public var evaluationSamples: Int
  }

  public static func run(model: LoadedModel, data: TuningData, budget: Budget, options: Tuning.Options,
                         progress: @escaping ProgressHandler = { _ in }) throws -> Result {
    func tune(_ mode: Tuning.SweepMode) throws -> (Run, AnalysisResult) {
      var o = options
      o.sweep = mode
      let outcome = try Tuning.run(model: model, data: data, budget: budget, options: o, progress: progress)
      let phases = outcome.summary.phases ?? []
      let report = outcome.report
      let lowest = report.candidates.last ?? "int4"
      let pairs = report.layers.count * report.candidates.count
      return (Run(mode: mode, sweepSeconds: phases.first { $0.name == "sweep" }?.seconds ?? 0,
        totalSeconds: phases.first { $0.name == "total" }?.seconds ?? 0,
        measuredPairs: report.screening?.measuredPairs ?? pairs, totalPairs: pairs, chosen: outcome.summary.chosenPoint,
        damages: Dictionary(uniqueKeysWithValues: report.layers.compactMap { l in l.sensitivity[lowest].map { (l.name, $0.damage) } })), report)
    }
    let (full, report) = try tune(.full)
    let (screened, _) = try tune(.screened)
    let names = report.layers.map(\.name).filter { full.damages[$0] != nil && screened.damages[$0] != nil }
    let n = data.evaluation.values.first?.shape.first ?? 0
    let se = full.chosen.metric.map { p in sqrt(max(p * (1 - p), 0) / Double(max(n, 1))) }
    return Result(full: full, screened: screened, precision: report.candidates.last ?? "int4",
      spearman: ProxyScores.spearman(names.map { full.damages[$0]! }, names.map { screened.damages[$0]! }),
      standardError: se, evaluationSamples: n)
  }
}
