import Allocation
import Execution
import Findings
import Foundation
import GraphIR
import Quantizers
import Sensitivity
import TensorCore

/// The budgeted mixed-precision pipeline (`mixprec tune`): analyze (unless given an analysis),
/// measure each layer's latency at each precision, choose exactly under the budgets (or search
/// the front under `maxDrop`), refine the chosen integer layers (AdaRound, bias correction,
/// optionally QAT), and measure the result beside FP32 and the uniform baselines.
public enum Tuning {
  public struct Options {
    public var objective: Tuner.Objective = .measured
    /// Calibration samples the sweep runs on (when no analysis is given).
    public var samples = 64
    /// Batch size the latency is measured and budgeted at.
    public var batch = 1
    /// Timed runs per latency figure (median).
    public var runs = 30
    public var biasCorrection = true
    public var adaRound = true
    /// Fine-tune the chosen plan when set (epochs > 0).
    public var qat: QuantizationAwareTraining.Options? = nil
    /// Add the range-method comparison to the report's data (costs one sweep of a few layers).
    public var rangeComparison = false
    /// Recorded in the report.
    public var commandLine = ""
    /// Where per-layer latency tables are cached.
    public var latencyCache = LatencyTable.cacheFolder
    /// Estimate the Hessian traces with the sweep (`Analysis.HessianOptions.tuning`), so the
    /// report shows the curvature and how well Ω ranks the layers; the hessian and blend
    /// objectives always estimate them (with `analyze --hessian`'s settings).
    public var hessian = true
    /// The outputs the damage is measured on (a given analysis's outputs take precedence).
    public var outputs = OutputSelection()
    /// Weight scales of every integer layer: per channel, or one per layer (`.tensor`, for
    /// hardware with one scale per tensor); the sweep, Ω and every plan use it.
    public var weightGranularity: WeightGranularity = .channel
    /// How the sweep picks its pairs when no analysis is given.
    public var sweep: SweepMode = .screened
    /// Run the MatMuls between two activations (attention) at INT8 in the chosen plan, both
    /// inputs per tensor with MSE-calibrated ranges; their damage alone is measured and reported.
    public var quantizeActivationProducts = false
    /// `.dynamic`: every integer layer takes its input range from each batch at run time (the
    /// sweep's candidates, every plan and the export); nil: MSE-calibrated ranges.
    public var activationRanges: RangeMethod? = nil
    public init() {}
  }

  public enum SweepMode: String, Sendable, CaseIterable {
    /// Ω screens every pair; only the pairs whose choice under the budget stays uncertain are
    /// measured (`ScreenedSweep`). Size, compression and average-bit budgets with the measured
    /// objective; any other case measures every pair.
    case screened
    /// Every layer at every candidate measured.
    case full
  }

  /// The screened sweep's budget, nil when the sweep must be full (`SweepMode.screened`).
  static func screeningBudget(_ budget: Budget, options o: Options, graph: Graph) -> Analysis.ScreeningBudget? {
    guard o.sweep == .screened, o.objective == .measured, budget.maxDrop == nil, budget.latencySeconds == nil else { return nil }
    let layers = graph.layers.filter { QuantizedLayer.supports(graph.nodes[$0.nodeIndex], in: graph) }
    let fp32 = Double(layers.reduce(0) { $0 + $1.fp32WeightBytes })
    let bytes = min(budget.sizeBytes ?? .infinity, budget.compression.map { fp32 / $0 } ?? .infinity)
    if bytes.isFinite { return Analysis.ScreeningBudget(resource: .bytes, limit: bytes) }
    if let bits = budget.averageBits { return Analysis.ScreeningBudget(resource: .bits, limit: bits * Double(layers.reduce(0) { $0 + $1.weightCount })) }
    return nil
  }

  /// - Parameters:
  ///   - analysis: a sweep (and Hessian) of this model to reuse; nil runs one on the calibration samples.
  ///   - evaluator: measures plans; nil runs them on `data.evaluation` on the kernels.
  public static func run(model: LoadedModel, data: TuningData, budget: Budget, analysis given: AnalysisResult? = nil,
                         options o: Options, evaluator given_evaluator: (any PlanEvaluating)? = nil,
                         progress: @escaping ProgressHandler = { _ in }) throws -> TuningOutcome {
    guard !budget.isEmpty else { throw TuningError.noBudget }
    guard o.batch > 0, o.samples > 0, o.runs > 0 else {
      throw MixPrecError.invalidOption(option: "--batch, --samples and --runs", rule: "must be positive")
    }
    let session = model.session
    guard session.graph.comparedOutput != nil else { throw MixPrecError.invalidOption(option: "MODEL", rule: "has no outputs to compare (none is floating-point)") }
    try checkSizeReachable(budget, graph: session.graph)
    if let a = given {
      guard a.modelSHA256 == model.sha256 else { throw MixPrecError.analysisForAnotherModel(analysisModel: a.model, model: model.url.path) }
      try checkCoverage(a, graph: session.graph)
      if a.weightGranularity != (o.weightGranularity == .tensor ? "tensor" : nil) {
        throw MixPrecError.invalidOption(option: "--weight-granularity",
          rule: "is \(o.weightGranularity.rawValue) but the analysis measured \(a.weightGranularity ?? "channel") weights; analyze again with the same --weight-granularity")
      }
      if a.activationRanges != (o.activationRanges == .dynamic ? "dynamic" : nil) {
        throw MixPrecError.invalidOption(option: "--activation-ranges",
          rule: "is \(o.activationRanges == .dynamic ? "dynamic" : "calibrated") but the analysis measured \(a.activationRanges ?? "calibrated") ranges; analyze again with the same --activation-ranges")
      }
      if o.objective != .measured, a.layers.contains(where: { $0.hessian == nil }) {
        throw TuningError.objectiveNeedsHessian(objective: o.objective.rawValue)
      }
    }
    if o.activationRanges == .dynamic, let q = o.qat, q.epochs > 0 {
      throw MixPrecError.invalidOption(option: "--qat", rule: "trains each integer layer's input clip; it does not go with --activation-ranges dynamic")
    }
    guard data.calibrationCount > 0 else { throw MixPrecError.tooFewSamples(folder: "calibration", samples: 0, needed: 1) }
    try MixPrecError.requireFinite(data.calibration)
    if budget.maxDrop != nil && (given_evaluator.map { $0.referenceMetric == nil } ?? (data.metric == nil)) {
      throw TuningError.maxDropNeedsLabels
    }
    _ = try o.outputs.outputNames(in: session.graph)
    if let a = given, let recorded = a.outputs, !o.outputs.names.isEmpty, o.outputs.names != recorded.map(\.name) {
      throw MixPrecError.invalidOption(option: "--output",
        rule: "names \(o.outputs.names.joined(separator: ", ")) but the analysis compared \(recorded.map(\.name).joined(separator: ", ")); analyze again with the same --output")
    }

    let clock = ContinuousClock(), begin = clock.now
    var mark = begin
    var phases: [TuningSummary.Phase] = []
    func lap(_ name: String) {
      phases.append(.init(name: name, seconds: (clock.now - mark).seconds))
      mark = clock.now
    }
    var calibrator = Calibrator(session: session, products: o.quantizeActivationProducts)
    progress(.note("calibrating \(calibrator.layerInputs.count) layer inputs on \(data.calibrationCount) samples"))
    try calibrator.observe(data.calibration, batch: 32, grams: o.biasCorrection || o.adaRound || ((o.objective != .measured || o.hessian) && given == nil))
    lap("calibration")
    var analysis: AnalysisResult
    if let given {
      analysis = given
    } else {
      var a = Analysis.Options()
      a.samples = o.samples
      a.rangeComparison = false
      a.outputs = o.outputs
      a.weightGranularity = o.weightGranularity
      a.activationRanges = o.activationRanges
      if o.objective != .measured { a.hessian = Analysis.HessianOptions() } else if o.hessian { a.hessian = .tuning }
      // Ω is what screens: --no-hessian measures every pair.
      a.screening = a.hessian == nil ? nil : screeningBudget(budget, options: o, graph: session.graph)
      if o.sweep == .screened && a.screening == nil {
        progress(.note("the screened sweep needs the Hessian, the measured objective and a size, compression or average-bit budget: every pair is measured"))
      }
      let outcome = try Analysis.run(model: model, calibration: data.calibration, calibrator: calibrator, options: a, progress: progress)
      analysis = outcome.result
      phases += outcome.phases.dropLast().map { TuningSummary.Phase(name: $0.0, seconds: $0.1) }
      mark = clock.now
    }
    try checkCoverage(analysis, graph: session.graph)
    // Plans are measured on the outputs and kinds the layers were measured on.
    let evaluator = try given_evaluator ?? PlanEvaluator(session: session, feeds: data.evaluation, metric: data.metric,
      outputs: analysis.outputs.map(OutputSelection.init) ?? o.outputs)
    let template = try PlanBuilder.uniform(session: session, calibrator: calibrator, precision: .int8,
      method: o.activationRanges == .dynamic ? .dynamic : .mse,
      granularity: o.weightGranularity, model: model.name, modelSHA256: model.sha256)
    let context = try TuningContext(model: model, template: template, analysis: analysis, calibrator: calibrator, data: data,
      options: o, evaluator: evaluator, progress: progress)
    lap("latency table")
    let tuner = context.tuner
    var problem = tuner.problem(budget)

    // The choice: exact under the budgets; under --max-drop the smallest passing front point.
    var measured: [TuningSummary.Point] = []
    let solution: AssignmentProblem.Solution
    do {
      if let drop = budget.maxDrop, let reference = evaluator.referenceMetric {
        let search = MaxDropSearch(drop: drop, reference: reference)
        let name = data.metric?.name ?? "metric"
        (solution, measured) = try search.run(&problem, measure: { try context.point($0, $1, measure: true) }) { p in
          progress(.note(String(format: "max-drop search: %@ at %@ → %@ %.4f (drop %.4f)", p.label, formatBytes(p.weightBytes), name,
            p.metric ?? .nan, reference - (p.metric ?? .nan))))
        }
      } else {
        solution = try MILPSolver.solve(problem)
      }
    } catch let e as AllocationError {
      throw context.infeasible(e, budget: budget)
    }

    lap(budget.maxDrop == nil ? "solve" : "max-drop search")
    var (chosen, codes) = try context.refined(tuner.plan(solution, budget: budget.description), adaRound: o.adaRound)
    lap(o.adaRound ? "adaround + bias correction" : "bias correction")
    var qatSummary: TuningSummary.QATSummary? = nil
    if let q = o.qat, q.epochs > 0 {
      // QAT starts from the refined plan; that plan is measured first so the report shows what QAT changed.
      var before = try context.point("chosen, no QAT", solution, measure: false)
      let pre = try evaluator.evaluate(chosen, codes: codes)
      before.measuredDamage = pre.damage
      before.metric = pre.metric
      let trained = try QuantizationAwareTraining.fineTune(session: session, plan: chosen, codes: codes, feeds: data.training,
        labels: data.trainingLabels, options: q, progress: progress)
      chosen = trained.plan
      codes = trained.codes
      qatSummary = TuningSummary.QATSummary(epochs: q.epochs, loss: q.loss.rawValue, trainingSamples: data.training.values.first?.shape.first ?? 0,
        seconds: trained.seconds, epochLoss: trained.epochLoss, before: before)
    }
    if o.qat != nil { lap("qat") }
    var productDamage: Double? = nil
    if o.quantizeActivationProducts {
      let products = try PlanBuilder.products(session: session, calibrator: calibrator, method: .mse)
      if !products.isEmpty {
        chosen.activationProducts = products
        var alone = PrecisionPlan(model: model.name, modelSHA256: model.sha256, layers: [])
        alone.activationProducts = products
        productDamage = try evaluator.evaluate(alone, codes: [:]).damage
        progress(.note(String(format: "activation products at int8: %d MatMuls between two activations, damage alone %.3g",
          products.count, productDamage ?? .nan)))
      } else {
        progress(.note("activation products: the model has no MatMul between two activations"))
      }
    }
    let layers = try PlanBuilder.layerQuantizations(chosen, session: session, codes: codes)
    let evaluation = try evaluator.evaluate(chosen, codes: codes)
    var chosenPoint = try context.point("chosen", solution, measure: false)
    chosenPoint.measuredDamage = evaluation.damage
    chosenPoint.metric = evaluation.metric
    chosenPoint.measuredLatencyMs = try context.latencyMs(session.with(quantized: layers))

    lap("evaluation")
    let baselines = try context.baselines(problem, budget: budget)
    lap("baselines")
    var unbounded = problem
    unbounded.sizeBudget = nil
    unbounded.bitsBudget = nil
    let front = (try? ParetoFront.sizeVersusDamage(unbounded, points: 12)) ?? []
    let frontPoints = try front.enumerated().map { try context.point("front \($0.offset)", $0.element, measure: false) }
    if budget.maxDrop == nil {
      let known = [solution.choice] + context.baselinePrecisions.map(tuner.layersChoice)
      for k in Tuning.frontPointsToMeasure(front.map(\.choice), known: known) {
        measured.append(try context.point("front \(k)", front[k], measure: true))
      }
    }
    lap("front")
    let fp32Point = TuningSummary.Point(label: "fp32", weightBytes: tuner.fp32Bytes, predictedLatencyMs: context.table.fp32Seconds * 1e3,
      measuredLatencyMs: try context.latencyMs(session), predictedDamage: 0, measuredDamage: 0, metric: evaluator.referenceMetric)
    let metricName = data.metric?.name
    chosen.predicted = PlanFigures(metric: metricName, reference: evaluator.referenceMetric, weightBytes: chosenPoint.weightBytes,
      latencyMs: chosenPoint.predictedLatencyMs, damage: solution.damage)
    chosen.measured = PlanFigures(metric: metricName, value: evaluation.metric, reference: evaluator.referenceMetric,
      weightBytes: chosenPoint.weightBytes, latencyMs: chosenPoint.measuredLatencyMs, damage: evaluation.damage)

    var report = analysis
    report.summary = Analysis.summary(of: session.graph)
    if o.rangeComparison && report.rangeComparison == nil {
      let count = min(o.samples, data.calibrationCount)
      report.rangeComparison = try SensitivitySweep.rangeComparison(session: session, calibrator: calibrator,
        feeds: data.calibration.mapValues { $0.rows(0..<count) }, analysis: report, outputs: OutputSelection(report.outputs ?? []))
      lap("range methods")
    }
    let assignment: [String: Precision] = tuner.assignment(solution)
    let sizes: [String: [String: Int]] = tuner.sizes.mapValues { row in Dictionary(uniqueKeysWithValues: row.map { ($0.key.rawValue, $0.value) }) }
    var summary = TuningSummary(
      budget: budget.description, objective: o.objective.rawValue, commandLine: o.commandLine, machine: context.table.machine,
      batch: o.batch, chosen: assignment.mapValues { $0.rawValue }, chosenPoint: chosenPoint, fp32: fp32Point, baselines: baselines,
      front: frontPoints, measured: measured, latencyMs: context.table.layers.mapValues { $0.mapValues { $0 * 1e3 } },
      weightBytes: sizes,
      metricName: metricName)
    summary.budgetBytes = problem.sizeBudget.map { Int($0) }
    summary.budgetLatencyMs = budget.latencySeconds.map { $0 * 1e3 }
    summary.qat = qatSummary
    summary.activationProducts = chosen.activationProducts?.map(\.name)
    summary.activationProductDamage = productDamage
    phases.append(.init(name: "total", seconds: (clock.now - begin).seconds))
    summary.phases = phases
    report.tuning = summary
    return TuningOutcome(plan: chosen, codes: codes, layers: layers, session: session, assignment: assignment, summary: summary,
      report: report, latencyFromCache: context.latencyFromCache, exportShapes: data.exportShapes)
  }

  /// The front points `tune` measures for the report: up to `count` evenly spaced among the
  /// interior ones (the ends are the smallest and largest plans, which the uniform baselines
  /// already measure), skipping any whose choice is already measured (`known`: the chosen plan
  /// and the baselines). Indices into `front`, ascending.
  public static func frontPointsToMeasure(_ front: [[Int]], known: [[Int]], count: Int = 3) -> [Int] {
    let interior = front.indices.dropFirst().dropLast().filter { !known.contains(front[$0]) }
    guard interior.count > count else { return Array(interior) }
    return (0..<count).map { interior[($0 * 2 + 1) * interior.count / (2 * count)] }
  }

  /// Size, compression and bit budgets below every layer at INT4 fail before any work.
  static func checkSizeReachable(_ budget: Budget, graph: Graph) throws {
    let layers = graph.layers.filter { QuantizedLayer.supports(graph.nodes[$0.nodeIndex], in: graph) }
    let smallest = layers.reduce(0) { $0 + PlanBuilder.layerWeightBytes($1, precision: .int4, group: nil, graph: graph) }
    let fp32 = layers.reduce(0) { $0 + $1.fp32WeightBytes }
    let limit = min(budget.sizeBytes ?? .infinity, budget.compression.map { Double(fp32) / $0 } ?? .infinity)
    if limit < Double(smallest) {
      throw TuningError.sizeUnreachable(smallestBytes: smallest, compression: Double(fp32) / Double(max(smallest, 1)))
    }
    if let bits = budget.averageBits, bits < 4 { throw TuningError.bitsUnreachable(smallestAverageBits: 4) }
  }

  /// Every layer the kernels can quantize must have figures in the analysis.
  static func checkCoverage(_ analysis: AnalysisResult, graph: Graph) throws {
    let analyzed = Set(analysis.layers.map(\.name))
    let missing = graph.layers.filter { QuantizedLayer.supports(graph.nodes[$0.nodeIndex], in: graph) && !analyzed.contains($0.name) }
    if let first = missing.first { throw TuningError.analysisMissesLayers(count: missing.count, first: first.name) }
  }
}

/// What `Tuning.run` chose and measured.
public struct TuningOutcome {
  /// The chosen plan, refined, with its predicted and measured figures.
  public var plan: PrecisionPlan
  /// AdaRound/QAT codes by layer.
  public var codes: [String: [Int8]]
  /// The plan's layers as the runtime and the export take them.
  public var layers: [String: LayerQuantization]
  public var session: Session
  public var assignment: [String: Precision]
  public var summary: TuningSummary
  /// The analysis with the model summary and the tuning summary: the report's data.
  public var report: AnalysisResult
  public var latencyFromCache: Bool
  /// Input shapes at batch 1 the export specializes value ranks at.
  public var exportShapes: [String: [Int]]

  /// Writes the codes, the QDQ model and the report where asked, then the plan (`Artifacts.write`).
  @discardableResult
  public func write(to destinations: Artifacts.Destinations) throws -> Artifacts.Written {
    try Artifacts.write(plan: plan, codes: codes, layers: layers, session: session, shapes: exportShapes, analysis: report,
      to: destinations)
  }

  /// FP32, the uniform baselines, the plan before QAT (when it ran) and the chosen plan: the
  /// rows of the CLI's table.
  public var table: [TuningSummary.Point] {
    [summary.fp32] + summary.baselines + (summary.qat.map { [$0.before] } ?? []) + [summary.chosenPoint]
  }

  /// Layers per precision, highest first.
  public var counts: [(Precision, Int)] {
    let c = Dictionary(grouping: assignment.values, by: { $0 }).mapValues(\.count)
    return [Precision.fp32, .fp16, .int8, .int4].compactMap { p in c[p].map { (p, $0) } }
  }
}
