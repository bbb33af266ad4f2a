import Execution
import Foundation
import MixPrec
import TensorCore

extension BenchCommand {
  /// `bench qat MODEL --plan P --calib DIR --eval DIR`: fine-tunes a plan written by `tune`
  /// (with its AdaRound codes) and reports, before and after, the training graph's KL and the
  /// integer runtime's KL and task metric on the evaluation folder, with the wall time and peak
  /// memory. The training graph's and the runtime's KL should agree (same model, two executors).
  func benchQAT() throws {
    guard let model, let planPath = plan, let calib, let eval else {
      throw CLIError("bench qat needs MODEL --plan PLAN --calib DIR --eval DIR")
    }
    guard qat.qat > 0, samples > 0 else { throw CLIError("bench qat needs --qat EPOCHS and --samples > 0") }
    let (_, session) = try openModel(model)
    let (start, codes) = try readPlan(planPath, model: model)
    guard start.equalizedPairs == nil else { throw CLIError("bench qat takes plans without cross-layer equalization (from tune)") }
    let graph = session.graph
    let calibration = try InputFolder(URL(fileURLWithPath: calib), for: graph)
    let n = min(samples, calibration.tensors.values.first?.shape.first ?? 0)
    let feeds = calibration.tensors.mapValues { $0.rows(0..<n) }
    let evalFolder = try InputFolder(URL(fileURLWithPath: eval), for: graph)
    let evalCount = evalFolder.tensors.values.first?.shape.first ?? 0
    let metric = try taskMetricFunction(evalFolder, graph: graph)
    let evaluator = try PlanEvaluator(session: session, feeds: evalFolder.tensors, batch: 32,
      metric: metric.map { m in { m.score($0, 0..<evalCount) } })
    func measure(_ label: String, _ p: PrecisionPlan, _ c: [String: [Int8]]) throws {
      let runtime = try evaluator.evaluate(p, codes: c)
      let training = try QuantizationAwareTraining(session: session, plan: p, codes: c).loss(evalFolder.tensors, batch: 16)
      print(String(format: "%@: eval KL training graph %.4g, integer runtime %.4g; %@ %.4f (FP32 %.4f)", label, training, runtime.kl,
        metric?.name ?? "metric", runtime.metric ?? .nan, evaluator.referenceMetric ?? .nan))
    }
    print("bench qat: \(URL(fileURLWithPath: model).lastPathComponent), plan \(URL(fileURLWithPath: planPath).lastPathComponent), \(n) training samples, \(evalCount) eval samples")
    try measure("before", start, codes)
    let trained = try qat.fineTune(session: session, plan: start, codes: codes, feeds: feeds, folder: calibration, progress: progress)
    try measure("after ", trained.plan, trained.codes)
    print(String(format: "QAT wall time %.1f s, peak memory %.0f MB", trained.seconds, peakResidentMB()))
  }
}
