import Foundation
import MixPrec

extension BenchCommand {
  /// The model (the default classifier unless given), its calibration folder (the default one for
  /// the default model, else `--calib` is required) and the positive sample count.
  func modelCalibrationAndSamples(bench: String, defaultSamples: Int) throws -> (model: String, calibration: String, samples: Int) {
    guard let folder = calib ?? (model == nil ? "Calibration/cls-calib" : nil) else {
      throw CLIError("bench \(bench) needs --calib DIR for a model other than the default")
    }
    let samples = self.samples ?? defaultSamples
    guard samples > 0 else { throw CLIError("--samples must be positive") }
    return (model ?? Self.defaultModel, folder, samples)
  }

  /// `bench analyze`: the full analysis (sweep + Hessian traces + eigenvalues) timed per phase,
  /// with the peak memory, on the default classifier and its calibration set unless told.
  func benchAnalyze() throws {
    let (modelPath, folder, samples) = try modelCalibrationAndSamples(bench: "analyze", defaultSamples: 128)
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("mixprec-bench-\(getpid()).json").path
    let command = try AnalyzeCommand.parse([modelPath, "--calib", folder, "--samples", "\(samples)", "--hessian", "--out", out])
    let outcome = try command.analyze()
    let result = outcome.result
    let name = URL(fileURLWithPath: modelPath).lastPathComponent
    let spearman = result.correlations?.first { $0.proxy == "hessian_score" && $0.precision == "int4" }?.spearman
    if json {
      var fields = outcome.phases.map { String(format: "\"%@_s\": %.3f", $0.0.replacingOccurrences(of: " ", with: "_"), $0.1) }
      fields.append(String(format: "\"peak_mb\": %.0f", outcome.peakMegabytes))
      if let spearman, spearman.isFinite { fields.append(String(format: "\"spearman_hawq_int4\": %.3f", spearman)) }
      print("{\"bench\": \"analyze\", \"model\": \"\(name)\", \"layers\": \(result.layers.count), \"samples\": \(result.samples), " + fields.joined(separator: ", ") + "}")
      return
    }
    print("analysis of \(name): \(result.layers.count) layers, sweep on \(result.samples) samples, Hessian on \(result.hessianSamples ?? 0)")
    for (phase, s) in outcome.phases { print("  " + phase.padding(toLength: 16, withPad: " ", startingAt: 0) + String(format: "%8.1f s", s)) }
    print("  " + "peak memory".padding(toLength: 16, withPad: " ", startingAt: 0) + String(format: "%8.0f MB", outcome.peakMegabytes))
    if let spearman { print(String(format: "  Spearman(HAWQ-V2 score, measured INT4 KL) = %.3f", spearman)) }
  }

  /// `bench solver`: the exact integer program on 500 layers × 4 precisions at a quarter of FP32.
  func benchSolver() throws {
    let r = try SolverBenchmark.run()
    if json {
      print(String(format: "{\"bench\": \"solver\", \"layers\": 500, \"candidates\": 4, \"seconds\": %.4f, \"size_fraction\": %.4f}", r.seconds, r.sizeFraction))
      return
    }
    print(String(format: "GLPK MILP, 500 layers × 4 candidates, budget 25%% of FP32: %.3f s; chose ", r.seconds)
      + r.counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", "))
  }
}
