import Allocation
import ArgumentParser
import Findings
import Foundation
import MixPrec
import TensorCore

struct TuneCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "tune",
    abstract: "Pick FP32/FP16/INT8/INT4 per layer under size, compression, bit, latency or accuracy budgets; run the result to prove it.")

  @Argument(help: "The ONNX model.") var model: String
  @Option(help: "Calibration folder.") var calib: String
  @Option(name: .customLong("size-budget"), help: "Most weight bytes (weights + scales): 1.5MB, 800KB, 123456.") var sizeBudget: String?
  @Option(help: "At least this compression of the layer weights: 4x.") var compression: String?
  @Option(name: .customLong("avg-bits"), help: "At most this many bits per weight on average: 5.5.") var avgBits: String?
  @Option(name: .customLong("latency-budget"), help: "At most this end-to-end latency at --batch on this machine: 3ms.") var latencyBudget: String?
  @Option(name: .customLong("max-drop"), help: "The smallest model whose measured task metric drops by at most this: 1%.") var maxDrop: String?
  @Option(parsing: .unconditional, help: "Batch size the latency is measured and budgeted at.") var batch: Int = 1
  @Option(help: "Held-out evaluation folder (default: the last quarter of the calibration folder).") var eval: String?
  @Option(help: "What the solver minimizes: measured (one-layer KL), hessian (HAWQ-V2 score) or blend.") var objective: String = "measured"
  @Option(help: "Reuse an analysis.json of this model instead of running the sweep.") var analysis: String?
  @Option(parsing: .unconditional, help: "Calibration samples the sweep runs on (when no --analysis).") var samples: Int = 64
  @Option(help: "screened: Ω ranks every layer × candidate and only the pairs whose choice under a size, compression or bits budget stays uncertain are measured; full: measure every pair.")
  var sweep: String = "screened"
  @Option(parsing: .unconditional, help: "Timed runs per latency figure (median).") var runs: Int = 30
  @Flag(inversion: .prefixedNo, help: "Correct integer layers' biases for the mean output shift of their quantized weights.")
  var biasCorrection = true
  @Flag(inversion: .prefixedNo, help: "AdaRound the chosen plan's integer weights (codes go to <plan>.codes.npz).") var adaround = true
  @Flag(inversion: .prefixedNo, help: "Estimate each layer's Hessian trace (Hutchinson, 8 samples, 16 iterations) with the sweep: the report's curvature section and Ω-vs-damage correlation.")
  var hessian = true
  @Flag(name: .customLong("quantize-activation-matmuls"), help: "Also run the chosen plan's MatMuls between two activations (attention) at INT8: both inputs per tensor, int32 products; their damage alone is reported.")
  var quantizeActivationMatmuls = false
  @OptionGroup var qat: QATOptions
  @Option(name: .customLong("weight-granularity"), help: "Weight scales of the integer candidates: channel (one per output channel) or tensor (one per layer, for hardware with a scale per tensor).")
  var weightGranularity = "channel"
  @Option(name: .customLong("activation-ranges"), help: "Input ranges of the integer candidates: calibrated (MSE on the calibration set) or dynamic (each batch's own minimum and maximum at run time, exported as DynamicQuantizeLinear).")
  var activationRanges = "calibrated"
  @OptionGroup var outputs: OutputOptions
  @Option(help: "Where to write the plan.") var plan: String
  @Option(help: "Also write the QDQ ONNX model.") var export: String?
  @Option(help: "The HTML report (Reports/NAME.html); its data goes to NAME.analysis.json beside it.") var report: String?

  func budget() throws -> Budget {
    var b = Budget()
    b.sizeBytes = try sizeBudget.map(Budget.parseSize)
    b.compression = try compression.map(Budget.parseCompression)
    b.averageBits = try avgBits.map(Budget.parseBits)
    b.latencySeconds = try latencyBudget.map(Budget.parseLatency)
    b.maxDrop = try maxDrop.map(Budget.parseDrop)
    guard !b.isEmpty else { throw TuningError.noBudget }
    return b
  }

  func options() throws -> Tuning.Options {
    var o = Tuning.Options()
    o.outputs = try outputs.selection(folder: calib)
    o.weightGranularity = try candidateGranularity(weightGranularity)
    o.activationRanges = try candidateRanges(activationRanges)
    guard let objective = Tuner.Objective(rawValue: objective) else { throw CLIError("unknown --objective '\(objective)'; use measured, hessian or blend") }
    o.objective = objective
    o.samples = samples
    o.batch = batch
    o.runs = runs
    o.biasCorrection = biasCorrection
    o.quantizeActivationProducts = quantizeActivationMatmuls
    o.adaRound = adaround
    o.hessian = hessian
    guard let mode = Tuning.SweepMode(rawValue: sweep) else { throw CLIError("unknown --sweep '\(sweep)'; use screened or full") }
    o.sweep = mode
    o.qat = qat.trainingOptions
    o.rangeComparison = report != nil
    o.commandLine = CommandLine.arguments.joined(separator: " ")
    return o
  }

  func run() throws {
    let budget = try budget(), options = try options()
    // The paths checked are the ones written.
    let destinations = Artifacts.Destinations(plan: URL(fileURLWithPath: plan), export: export.map(URL.init(fileURLWithPath:)),
      report: report.map(URL.init(fileURLWithPath:)))
    try checkOutputs([("--plan", plan), ("--plan's codes", adaround || qat.qat > 0 ? destinations.codes.path : nil), ("--export", export),
      ("--report", report), ("--report's data", destinations.reportData?.path)], inputs: [model, calib, eval, analysis, qat.qatData])
    let model = try openModel(model)
    // A given analysis is read before any work.
    let given = try analysis.map { try AnalysisResult.read(from: URL(fileURLWithPath: $0)) }
    let graph = model.graph
    let data = try TuningData(calibration: inputFolder(calib, for: graph), evaluation: eval.map { try inputFolder($0, for: graph) },
      training: qat.qatData.map { try inputFolder($0, for: graph) }, graph: graph)
    let printer = ProgressPrinter()
    let outcome = try Tuning.run(model: model, data: data, budget: budget, analysis: given, options: options, progress: printer.handle)
    printer.finish()
    let written = try outcome.write(to: destinations)
    if let e = written.export { print("QDQ model -> \(e.path)") }
    if let r = written.report, let d = written.reportData { print("report -> \(r.path) (data: \(d.path))") }
    print("budget: \(budget.description); objective: \(options.objective.rawValue); damage on "
      + (outcome.report.outputs ?? []).map { "\($0.name) (\($0.kind.rawValue))" }.joined(separator: " + "))
    print("chosen: " + outcome.counts.map { "\($0.1) \($0.0.rawValue)" }.joined(separator: ", "))
    printTable(outcome.table, metricName: outcome.summary.metricName)
    print("time: " + (outcome.summary.phases ?? []).map { String(format: "%@ %.1f s", $0.name, $0.seconds) }.joined(separator: ", ")
      + String(format: "; peak memory %.0f MB", ProcessResources.peakResidentMegabytes))
    print("plan -> \(plan)")
  }

  func printTable(_ points: [TuningSummary.Point], metricName: String?) {
    print("plan            weights      x     latency pred/meas (ms)   damage pred / meas      \(metricName ?? "metric")")
    let fp32 = points.first?.weightBytes ?? 1
    for p in points {
      let lat = String(format: "%7.3f / %7.3f", p.predictedLatencyMs ?? .nan, p.measuredLatencyMs ?? .nan)
      let kl = String(format: "%9.2e / %9.2e", p.predictedDamage ?? .nan, p.measuredDamage ?? .nan)
      let m = p.metric.map { String(format: "%.4f", $0) } ?? "-"
      print(p.label.padding(toLength: 15, withPad: " ", startingAt: 0) + " " + formatBytes(p.weightBytes).padding(toLength: 10, withPad: " ", startingAt: 0)
        + String(format: " %5.2f  ", Double(fp32) / Double(max(p.weightBytes, 1))) + lat + "        " + kl + "   " + m)
    }
  }
}
