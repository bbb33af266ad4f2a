import Allocation
import Foundation
import MixPrec
import TensorCore

extension BenchCommand {
  /// `bench sweep MODEL --calib DIR [--eval DIR]`: `tune --compression 4x` with the full and the
  /// screened sweep; pairs measured, time, Spearman of the lowest candidate's damages, metrics.
  func benchSweep() throws {
    let (modelPath, folder, samples) = try modelCalibrationAndSamples(bench: "sweep", defaultSamples: 64)
    let loaded = try openModel(modelPath)
    let data = try TuningData(calibration: inputFolder(folder, for: loaded.graph), evaluation: eval.map { try inputFolder($0, for: loaded.graph) },
      training: nil, graph: loaded.graph)
    var budget = Budget()
    budget.compression = 4
    var options = Tuning.Options()
    options.samples = samples
    let r = try SweepBenchmark.run(model: loaded, data: data, budget: budget, options: options)
    print("tune --compression 4x of \(loaded.name) on \(samples) samples, \(r.evaluationSamples) evaluation samples")
    for run in [r.full, r.screened] {
      let metric = run.chosen.metric.map { String(format: "%.4f", $0) } ?? "-"
      print(String(format: "  %-9@ measured %4d of %4d pairs, sweep %7.1f s, tune %7.1f s; chosen %@, damage %.3e, metric %@",
        run.mode.rawValue, run.measuredPairs, run.totalPairs, run.sweepSeconds, run.totalSeconds, formatBytes(run.chosen.weightBytes),
        run.chosen.measuredDamage ?? Double.nan, metric))
    }
    print(String(format: "  Spearman(screened, full) of the per-layer %@ damage: %.3f", r.precision, r.spearman))
    if let se = r.standardError, let a = r.full.chosen.metric, let b = r.screened.chosen.metric {
      print(String(format: "  metric difference %.4f, the full plan's standard error %.4f (%.2f SE)", b - a, se, se > 0 ? Swift.abs(b - a) / se : 0.0))
    }
  }
}
