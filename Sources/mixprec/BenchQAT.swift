import Foundation
import MixPrec
import Sensitivity
import TensorCore

extension BenchCommand {
  /// `bench qat MODEL --plan P --calib DIR --eval DIR`: fine-tunes a plan written by `tune`
  /// (with its AdaRound codes) and reports, before and after, the training graph's KL and the
  /// integer runtime's KL and task metric on the evaluation folder, with the wall time and peak
  /// memory. The training graph's and the runtime's KL should agree (same model, two executors).
  func benchQAT() throws {
    let samples = self.samples ?? 128
    guard let model, let planPath = plan, let calib, let eval else {
      throw CLIError("bench qat needs MODEL --plan PLAN --calib DIR --eval DIR")
    }
    guard let options = qat.trainingOptions, samples > 0 else { throw CLIError("bench qat needs --qat EPOCHS and --samples > 0") }
    let loaded = try openModel(model)
    let (start, codes) = try loaded.readPlan(URL(fileURLWithPath: planPath))
    guard start.equalizedPairs == nil else { throw CLIError("bench qat takes plans without cross-layer equalization (from tune)") }
    let graph = loaded.graph
    let calibration = try inputFolder(calib, for: graph)
    let n = min(samples, calibration.sampleCount)
    let feeds = calibration.tensors.mapValues { $0.rows(0..<n) }
    let evalFolder = try inputFolder(eval, for: graph)
    let metric = try TaskMetric(folder: evalFolder, graph: graph)
    let evaluator = try PlanEvaluator(session: loaded.session, feeds: evalFolder.tensors, metric: metric)
    func measure(_ label: String, _ p: PrecisionPlan, _ c: [String: [Int8]]) throws {
      let runtime = try evaluator.evaluate(p, codes: c)
      let training = try QuantizationAwareTraining(session: loaded.session, plan: p, codes: c).loss(evalFolder.tensors, batch: 16)
      print(String(format: "%@: eval KL training graph %.4g, integer runtime %.4g; %@ %.4f (FP32 %.4f)", label, training, runtime.damage,
        metric?.name ?? "metric", runtime.metric ?? .nan, evaluator.referenceMetric ?? .nan))
    }
    print("bench qat: \(loaded.name), plan \(URL(fileURLWithPath: planPath).lastPathComponent), \(n) training samples, \(evalFolder.sampleCount) eval samples")
    try measure("before", start, codes)
    let printer = ProgressPrinter()
    let trained = try QuantizationAwareTraining.fineTune(session: loaded.session, plan: start, codes: codes, feeds: feeds,
      labels: TaskLabels.of(calibration, graph: graph)?.rows(0..<n), options: options, progress: printer.handle)
    printer.finish()
    try measure("after ", trained.plan, trained.codes)
    print(String(format: "QAT wall time %.1f s, peak memory %.0f MB", trained.seconds, ProcessResources.peakResidentMegabytes))
  }
}
