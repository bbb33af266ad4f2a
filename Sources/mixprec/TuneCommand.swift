import Allocation
import ArgumentParser
import Execution
import Foundation
import GraphIR
import MixPrec
import Quantizers
import Sensitivity
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
  @Option(help: "Batch size the latency is measured and budgeted at.") var batch: Int = 1
  @Option(help: "Held-out evaluation folder (default: the last quarter of the calibration folder).") var eval: String?
  @Option(help: "What the solver minimizes: measured (one-layer KL), hessian (HAWQ-V2 score) or blend.") var objective: String = "measured"
  @Option(help: "Reuse an analysis.json of this model instead of running the sweep.") var analysis: String?
  @Option(help: "Calibration samples the sweep runs on (when no --analysis).") var samples: Int = 64
  @Option(help: "Timed runs per latency figure (median).") var runs: Int = 30
  @Flag(inversion: .prefixedNo, help: "Correct integer layers' biases for the mean output shift of their quantized weights.")
  var biasCorrection = true
  @Flag(inversion: .prefixedNo, help: "AdaRound the chosen plan's integer weights (codes go to <plan>.codes.npz).") var adaround = true
  @OptionGroup var qat: QATOptions
  @Option(help: "Where to write the plan.") var plan: String
  @Option(help: "Also write the QDQ ONNX model.") var export: String?
  @Option(help: "The HTML report (Reports/NAME.html); its data goes to NAME.analysis.json beside it.") var report: String?

  func budget() throws -> Budget {
    var b = Budget()
    do {
      b.sizeBytes = try sizeBudget.map(Budget.parseSize)
      b.compression = try compression.map(Budget.parseCompression)
      b.averageBits = try avgBits.map(Budget.parseBits)
      b.latencySeconds = try latencyBudget.map(Budget.parseLatency)
      b.maxDrop = try maxDrop.map(Budget.parseDrop)
    } catch let e as AllocationError { throw CLIError(e.description) }
    guard !b.isEmpty else { throw CLIError("give a budget: --size-budget, --compression, --avg-bits, --latency-budget and/or --max-drop") }
    return b
  }

  func run() throws {
    let budget = try budget()
    guard let objective = Tuner.Objective(rawValue: objective) else { throw CLIError("unknown --objective '\(objective)'; use measured, hessian or blend") }
    guard batch > 0, samples > 0, runs > 0 else { throw CLIError("--batch, --samples and --runs must be positive") }
    try requireOutputFolder(plan, option: "--plan")
    if let export { try requireOutputFolder(export, option: "--export") }
    if let report { try requireOutputFolder(report, option: "--report") }
    let sha = try sha256Hex(ofFile: model)
    let (_, session) = try openModel(model)
    let graph = session.graph
    try checkSizeReachable(budget, graph: graph)
    // A given analysis is read (and checked against the model) before any work.
    let given = try analysis.map { path -> AnalysisResult in
      let a = try AnalysisResult.read(from: URL(fileURLWithPath: path))
      guard a.modelSHA256 == sha else { throw CLIError("--analysis '\(path)' was made for another model (\(a.model))") }
      return a
    }
    let calibration = try InputFolder(URL(fileURLWithPath: calib), for: graph)
    let qatFolder = try qat.qatData.map { try InputFolder(URL(fileURLWithPath: $0), for: graph) }
    let total = calibration.tensors.values.first?.shape.first ?? 0
    guard total > 0 else { throw CLIError("calibration folder '\(calib)' has no samples") }
    // Evaluation samples: the given folder, else the calibration set's last quarter (held out).
    let evalFolder = try eval.map { try InputFolder(URL(fileURLWithPath: $0), for: graph) }
    let held = evalFolder == nil ? max(1, total / 4) : 0
    guard total - held > 0 else { throw CLIError("calibration folder '\(calib)' needs at least 2 samples to hold some out") }
    let calibFeeds = calibration.tensors.mapValues { $0.rows(0..<(total - held)) }
    let evalFeeds = evalFolder?.tensors ?? calibration.tensors.mapValues { $0.rows((total - held)..<total) }
    let evalRange = evalFolder == nil ? (total - held)..<total : 0..<(evalFeeds.values.first?.shape.first ?? 0)
    let folderMetric = try taskMetricFunction(evalFolder ?? calibration, graph: graph)
    let metric: (name: String?, function: ((Tensor) -> Double)?) = (folderMetric?.name, folderMetric.map { m in { m.score($0, evalRange) } })
    if budget.maxDrop != nil && metric.function == nil {
      throw CLIError("--max-drop needs labels (labels.npy or labels.txt) in the evaluation folder")
    }

    var calibrator = Calibrator(session: session)
    progress("calibrating \(calibrator.layerInputs.count) layer inputs on \(total - held) samples")
    try calibrator.observe(calibFeeds, batch: 32, grams: biasCorrection || adaround || (objective != .measured && analysis == nil))
    let analysisResult = try given ?? analysisFor(session: session, calibrator: calibrator, feeds: calibFeeds, sha: sha, objective: objective)
    let template = try PlanBuilder.uniform(session: session, calibrator: calibrator, precision: .int8, method: .mse,
      model: URL(fileURLWithPath: model).lastPathComponent, modelSHA256: sha)

    // Latency per layer and precision on this machine (cached).
    let latencyFeeds = calibFeeds.mapValues { t -> Tensor in
      let rows = (0..<batch).map { $0 % t.shape[0] }
      return Tensor(shape: [batch] + t.shape.dropFirst(), floats: rows.flatMap { t.rows($0..<($0 + 1)).floats })
    }
    var uniform: [Precision: PrecisionPlan] = [:]
    for p in [Precision.fp16, .int8, .int4] {
      var u = template
      for i in u.layers.indices where u.layers[i].precision != .fp32 { u.layers[i].precision = p }
      uniform[p] = u
    }
    let uniformSessions = try uniform.mapValues { try session.with(quantized: PlanBuilder.layerQuantizations($0, session: session)) }
    let (table, cached) = try LatencyTable.cached(session: session, uniform: uniformSessions, feeds: latencyFeeds, modelSHA256: sha, runs: runs)
    progress("layer latencies \(cached ? "from the cache" : "measured") (\(table.machine), batch \(batch)); FP32 \(String(format: "%.3f", table.fp32Seconds * 1e3)) ms")

    let tuner = try Tuner(session: session, template: template, analysis: analysisResult, latency: table, objective: objective)
    var problem = tuner.problem(budget)
    let evaluator = try PlanEvaluator(session: session, feeds: evalFeeds, batch: 32, metric: metric.function)
    func latencyMs(_ s: Session) throws -> Double {
      try LatencyTable.median(runs: runs) { _ = try s.run(latencyFeeds) } * 1e3
    }
    // Post-training refinements of a plan's integer layers (the same for every plan compared).
    func refined(_ p: PrecisionPlan, adaRound: Bool = false) throws -> (plan: PrecisionPlan, codes: [String: [Int8]]) {
      var plan = p
      var codes: [String: [Int8]] = [:]
      if adaRound { codes = try PlanBuilder.adaRound(&plan, session: session, calibrator: calibrator, progress: progress).codes }
      if biasCorrection { try PlanBuilder.correctBiases(&plan, session: session, calibrator: calibrator, codes: codes) }
      return (plan, codes)
    }
    func point(_ label: String, _ s: AssignmentProblem.Solution, measure: Bool) throws -> TuningSummary.Point {
      var pt = TuningSummary.Point(label: label, weightBytes: tuner.weightBytes(s), predictedLatencyMs: tuner.predictedLatencyMs(s), predictedKL: s.damage)
      if measure {
        let r = try refined(tuner.plan(s, budget: budget.description))
        let e = try evaluator.evaluate(r.plan, codes: r.codes)
        pt.measuredKL = e.kl
        pt.metric = e.metric
      }
      return pt
    }

    // The choice: exact under the budgets; under --max-drop the smallest point of the front
    // whose measured drop fits, found by bisection (bounded runs).
    var measured: [TuningSummary.Point] = []
    var solution: AssignmentProblem.Solution
    do {
      if let drop = budget.maxDrop, let reference = evaluator.referenceMetric {
        // Bisection over the front (sizes ascending): the smallest point whose drop fits.
        let front = try ParetoFront.sizeVersusDamage(problem, points: 16).sorted { $0.size < $1.size }
        var lo = 0, hi = front.count - 1
        var best = front[hi]
        var failing: AssignmentProblem.Solution? = nil
        func fits(_ label: String, _ s: AssignmentProblem.Solution) throws -> Bool {
          let p = try point(label, s, measure: true)
          measured.append(p)
          progress(String(format: "max-drop search: %@ at %@ → %@ %.4f (drop %.4f)", p.label, formatBytes(p.weightBytes), metric.name ?? "", p.metric ?? 0, reference - (p.metric ?? 0)))
          return reference - (p.metric ?? 0) <= drop
        }
        while lo <= hi {
          let mid = (lo + hi) / 2
          if try fits("front \(mid)", front[mid]) { best = front[mid]; hi = mid - 1 } else { failing = front[mid]; lo = mid + 1 }
        }
        // Promotion: in the largest failing plan, the layers it puts lower than the passing one
        // are raised one at a time and measured; a layer whose measured KL saving beats its
        // predicted damage was under-predicted, its damage is scaled up, and the problem is
        // re-solved between the two sizes. At most three rounds.
        for round in 1...3 {
          guard let f = failing, f.size < best.size else { break }
          let differing = f.choice.indices.filter { f.choice[$0] != best.choice[$0] }
          guard !differing.isEmpty else { break }
          let base = try point("promotion \(round) base", f, measure: true).measuredKL ?? 0
          var scaled = false
          for i in differing {
            var c = f.choice
            c[i] = best.choice[i]
            let raised = try point("promotion \(round) layer \(i)", problem.evaluate(c), measure: true).measuredKL ?? base
            let predicted = problem.layers[i][f.choice[i]].damage - problem.layers[i][best.choice[i]].damage
            let saved = base - raised
            if saved > predicted, predicted >= 0 {
              problem.layers[i][f.choice[i]].damage += min(saved - predicted, 100 * max(predicted, 1e-12))
              scaled = true
            }
          }
          guard scaled else { break }
          var between = problem
          between.sizeBudget = (f.size + best.size) / 2
          guard let candidate = try? MILPSolver.solve(between), candidate.size < best.size else { break }
          if try fits("promotion \(round)", candidate) { best = candidate } else { failing = candidate }
        }
        solution = best
        problem.sizeBudget = best.size
      } else {
        solution = try MILPSolver.solve(problem)
      }
    } catch let e as AllocationError {
      throw CLIError(describeInfeasible(e, tuner: tuner, budget: budget))
    }
    var (chosen, codes) = try refined(tuner.plan(solution, budget: budget.description), adaRound: adaround)
    var qatSummary: TuningSummary.QATSummary? = nil
    if qat.qat > 0 {
      // QAT starts from the refined plan: AdaRound's codes, bias corrections in the biases.
      // That plan is measured first, so the table and the report show what QAT changed.
      let pre = try evaluator.evaluate(chosen, codes: codes)
      var before = try point("chosen, no QAT", solution, measure: false)
      before.measuredKL = pre.kl
      before.metric = pre.metric
      let trainingFeeds = qatFolder?.tensors ?? calibFeeds
      let trained = try qat.fineTune(session: session, plan: chosen, codes: codes, feeds: trainingFeeds,
        folder: qatFolder ?? calibration, progress: progress)
      chosen = trained.plan
      codes = trained.codes
      qatSummary = TuningSummary.QATSummary(epochs: qat.qat, loss: qat.qatLoss, trainingSamples: trainingFeeds.values.first?.shape.first ?? 0,
        seconds: trained.seconds, epochLoss: trained.epochLoss, before: before)
    }
    let evaluation = try evaluator.evaluate(chosen, codes: codes)
    let chosenLatency = try latencyMs(session.with(quantized: PlanBuilder.layerQuantizations(chosen, session: session, codes: codes)))
    var chosenPoint = try point("chosen", solution, measure: false)
    chosenPoint.measuredKL = evaluation.kl
    chosenPoint.metric = evaluation.metric
    chosenPoint.measuredLatencyMs = chosenLatency

    // Uniform baselines and a few measured points along the front.
    // The baselines get the chosen plan's refinements (AdaRound, bias correction): same methods,
    // uniform precision.
    var baselines: [TuningSummary.Point] = []
    for p in [Precision.fp16, .int8, .int4] where tuner.candidates.contains(p) {
      let s = problem.evaluate(tuner.layersChoice(p))
      var b = try point("uniform \(p.rawValue)", s, measure: false)
      let r = try refined(tuner.plan(s, budget: budget.description), adaRound: adaround && p != .fp16)
      let e = try evaluator.evaluate(r.plan, codes: r.codes)
      b.measuredKL = e.kl
      b.metric = e.metric
      b.measuredLatencyMs = try latencyMs(uniformSessions[p]!)
      baselines.append(b)
    }
    var unbounded = problem
    unbounded.sizeBudget = nil
    unbounded.bitsBudget = nil
    let front = (try? ParetoFront.sizeVersusDamage(unbounded, points: 12)) ?? []
    let frontPoints = try front.enumerated().map { try point("front \($0.offset)", $0.element, measure: false) }
    if budget.maxDrop == nil {
      for k in stride(from: 0, to: front.count, by: max(1, front.count / 4)) {
        measured.append(try point("front \(k)", front[k], measure: true))
      }
    }

    let fp32Point = TuningSummary.Point(label: "fp32", weightBytes: tuner.fp32Bytes, predictedLatencyMs: table.fp32Seconds * 1e3,
      measuredLatencyMs: try latencyMs(session), predictedKL: 0, measuredKL: 0, metric: evaluator.referenceMetric)
    chosen.predicted = PlanFigures(metric: metric.name, reference: evaluator.referenceMetric, weightBytes: chosenPoint.weightBytes,
      latencyMs: chosenPoint.predictedLatencyMs, kl: solution.damage)
    chosen.measured = PlanFigures(metric: metric.name, value: evaluation.metric, reference: evaluator.referenceMetric,
      weightBytes: chosenPoint.weightBytes, latencyMs: chosenLatency, kl: evaluation.kl)

    // Outputs: AdaRound codes, export, report, then the plan.
    if !codes.isEmpty {
      let file = URL(fileURLWithPath: plan).deletingPathExtension().appendingPathExtension("codes.npz")
      try NPZ.write(codes.mapValues { Tensor(dtype: .int8, shape: [$0.count], storage: .int($0.map(Int64.init))) }, to: file)
      chosen.codesFile = file.lastPathComponent
    }
    if let export {
      let shapes = calibration.tensors.mapValues { [1] + $0.shape.dropFirst() }
      try PlanBuilder.exportQDQ(PlanBuilder.layerQuantizations(chosen, session: session, codes: codes), session: session, shapes: shapes,
        to: URL(fileURLWithPath: export))
      print("QDQ model -> \(export)")
    }
    if let report {
      var result = analysisResult
      result.summary = modelSummary(graph)
      if result.rangeComparison == nil {
        let count = min(samples, calibFeeds.values.first?.shape.first ?? 0)
        result.rangeComparison = try SensitivitySweep.rangeComparison(session: session, calibrator: calibrator,
          feeds: calibFeeds.mapValues { $0.rows(0..<count) }, analysis: result)
      }
      let sizes = tuner.sizes
      result.tuning = TuningSummary(
        budget: budget.description, objective: objective.rawValue, commandLine: CommandLine.arguments.joined(separator: " "),
        machine: table.machine, batch: batch, chosen: tuner.assignment(solution).mapValues(\.rawValue), chosenPoint: chosenPoint,
        fp32: fp32Point, baselines: baselines, front: frontPoints, measured: measured,
        latencyMs: table.layers.mapValues { $0.mapValues { $0 * 1e3 } },
        weightBytes: sizes.mapValues { Dictionary(uniqueKeysWithValues: $0.map { ($0.key.rawValue, $0.value) }) }, metricName: metric.name)
      result.tuning?.planJSON = String(decoding: try JSONFile.encoded(chosen), as: UTF8.self)
      result.tuning?.budgetBytes = problem.sizeBudget.map { Int($0) }
      result.tuning?.budgetLatencyMs = budget.latencySeconds.map { $0 * 1e3 }
      result.tuning?.qat = qatSummary
      let url = URL(fileURLWithPath: report).deletingPathExtension().appendingPathExtension("analysis.json")
      try result.write(to: url)
      try writeReport(result, to: report)
      print("report -> \(report) (data: \(url.path))")
    }
    try chosen.write(to: URL(fileURLWithPath: plan))

    let counts = Dictionary(grouping: tuner.assignment(solution).values, by: { $0 }).mapValues(\.count)
    print("budget: \(budget.description); objective: \(objective.rawValue)")
    print("chosen: " + [Precision.fp32, .fp16, .int8, .int4].compactMap { p in counts[p].map { "\($0) \(p.rawValue)" } }.joined(separator: ", "))
    printTable([fp32Point] + baselines + (qatSummary.map { [$0.before] } ?? []) + [chosenPoint], metricName: metric.name)
    print("plan -> \(plan)")
  }

  func printTable(_ points: [TuningSummary.Point], metricName: String?) {
    print("plan            weights      x     latency pred/meas (ms)   KL pred / meas        \(metricName ?? "metric")")
    let fp32 = points.first?.weightBytes ?? 1
    for p in points {
      let lat = String(format: "%7.3f / %7.3f", p.predictedLatencyMs ?? .nan, p.measuredLatencyMs ?? .nan)
      let kl = String(format: "%9.2e / %9.2e", p.predictedKL ?? .nan, p.measuredKL ?? .nan)
      let m = p.metric.map { String(format: "%.4f", $0) } ?? "-"
      print(p.label.padding(toLength: 15, withPad: " ", startingAt: 0) + " " + formatBytes(p.weightBytes).padding(toLength: 10, withPad: " ", startingAt: 0)
        + String(format: " %5.2f  ", Double(fp32) / Double(max(p.weightBytes, 1))) + lat + "        " + kl + "   " + m)
    }
  }

  /// Size, compression and bit budgets below every layer at INT4 fail before any work.
  func checkSizeReachable(_ budget: Budget, graph: Graph) throws {
    let layers = graph.layers.filter { QuantizedLayer.supports(graph.nodes[$0.nodeIndex], in: graph) }
    let smallest = layers.reduce(0) { $0 + PlanBuilder.layerWeightBytes($1, precision: .int4, group: nil, graph: graph) }
    let fp32 = layers.reduce(0) { $0 + 4 * $1.weightShape.reduce(1, *) }
    let limit = min(budget.sizeBytes ?? .infinity, budget.compression.map { Double(fp32) / $0 } ?? .infinity)
    if limit < Double(smallest) {
      throw CLIError(String(format: "budget not reachable: the smallest model (every layer at int4) has %@ of weights + scales, compression %.2fx",
        formatBytes(smallest), Double(fp32) / Double(max(smallest, 1))))
    }
    if let bits = budget.averageBits, bits < 4 { throw CLIError("average-bits budget not reachable: the smallest is 4 bits per weight") }
  }

  /// The infeasibility error in the budget's own terms.
  func describeInfeasible(_ e: AllocationError, tuner: Tuner, budget: Budget) -> String {
    let p = tuner.problem(Budget())
    let smallest = p.smallestSize
    if budget.compression != nil || budget.sizeBytes != nil, e.description.contains("size budget") {
      return String(format: "budget not reachable: the smallest model (every layer at its smallest precision) has %@ of weights, compression %.2fx",
        formatBytes(Int(smallest)), Double(tuner.fp32Bytes) / smallest)
    }
    if budget.latencySeconds != nil, e.description.contains("latency"), let fixed = tuner.fixedLatencySeconds {
      return String(format: "latency budget not reachable: the fastest assignment takes %.3f ms at batch %d", (fixed + p.smallestLatency) * 1e3, batch)
    }
    if budget.averageBits != nil, e.description.contains("bit budget") {
      return String(format: "average-bits budget not reachable: the smallest is %.2f bits per weight", p.smallestBits / Double(max(1, tuner.parameterCount)))
    }
    return e.description
  }

  /// The sweep (and with a Hessian objective the curvature) on the calibration samples.
  func analysisFor(session: Session, calibrator: Calibrator, feeds: [String: Tensor], sha: String, objective: Tuner.Objective) throws -> AnalysisResult {
    let count = min(samples, feeds.values.first?.shape.first ?? 0)
    let sweepFeeds = feeds.mapValues { $0.rows(0..<count) }
    var sweepBar: ProgressBar? = nil
    let swept = try SensitivitySweep(candidates: [.fp16, .int8, .int4]).run(session: session, calibrator: calibrator, feeds: sweepFeeds, progress: { done, total, line in
      if sweepBar == nil { sweepBar = ProgressBar("sweep", total: total, unit: "layers×batches") }
      sweepBar!.update(done, line)
    })
    var result = AnalysisResult(model: URL(fileURLWithPath: model).lastPathComponent, modelSHA256: sha,
      candidates: ["fp16", "int8", "int4"], samples: count, layers: swept.layers)
    if objective != .measured {
      let h = try HessianAnalysis(estimator: HessianEstimator(), candidates: [.fp16, .int8, .int4])
        .run(session: session, feeds: feeds.mapValues { $0.rows(0..<min(16, count)) }, layers: swept.layers.map(\.name), grams: calibrator.grams)
      for i in result.layers.indices { result.layers[i].hessian = h.figures[result.layers[i].name] }
      result.hessianSamples = min(16, count)
      result.correlate()
    }
    return result
  }
}
