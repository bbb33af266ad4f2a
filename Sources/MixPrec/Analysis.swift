import Execution
import Findings
import Foundation
import GraphIR
import Kernels
import Quantizers
import Sensitivity
import TensorCore

/// The analysis pipeline (`mixprec analyze`, and the first step of `tune`): calibrate, sweep
/// one layer at a time over the candidates, and optionally estimate the Hessian figures.
public enum Analysis {
  public struct Options: Sendable {
    public var candidates: [Precision] = [.fp16, .int8, .int4]
    /// Samples (the first ones) the sweep runs on; the ranges use every calibration sample.
    public var samples = 64
    /// Samples per forward pass (bounds memory).
    public var batch = 32
    /// Sweep only the layers of shard `index` of `count` (1-based, dealt round-robin).
    public var shard: (index: Int, count: Int)? = nil
    /// Estimate Hessian traces, top eigenvalues and HAWQ-V2 scores when set.
    public var hessian: HessianOptions? = nil
    /// Compare the range methods on the most sensitive layers (the report's table); skipped for shards.
    public var rangeComparison = true
    /// The outputs the damage is measured on, and their kinds where not detected.
    public var outputs = OutputSelection()
    /// Weight scales of the integer candidates: per channel, or one per layer (`.tensor`).
    public var weightGranularity: WeightGranularity = .channel
    /// `.dynamic`: the integer candidates take each batch's input range at run time (no
    /// calibrated activation ranges); nil: MSE-calibrated ranges.
    public var activationRanges: RangeMethod? = nil
    /// Measure only the pairs whose choice under this budget Ω leaves uncertain (`ScreenedSweep`);
    /// needs `hessian` (without its figures every pair is measured). Nil: the full sweep.
    public var screening: ScreeningBudget? = nil

    public init() {}

    /// Checks the values before any work; the pipeline calls it too.
    public func validate() throws { try Analysis.validate(self) }
  }

  public struct HessianOptions: Sendable {
    public var samples = 16
    /// Hutchinson stops when no layer's running mean moves by more than this (relative).
    public var tolerance = 0.01
    public var iterations = 64
    public var lanczosSteps = 8
    /// Samples the top eigenvalues run on; 0 skips them.
    public var eigenSamples = 4
    /// When false, a model the curvature model cannot differentiate (an op without a gradient)
    /// gets an analysis without Hessian figures and the reason, instead of an error.
    public var required = true
    public var seed: UInt64 = 0
    public init() {}

    /// What `tune` estimates by default: the traces alone on 8 samples, at most 16 Hutchinson
    /// iterations (HAWQ-V2 scores and the proxy correlations, at a tenth of `analyze --hessian`'s cost).
    public static var tuning: HessianOptions {
      var h = HessianOptions()
      h.samples = 8
      h.iterations = 16
      h.eigenSamples = 0
      h.required = false
      return h
    }
  }

  /// The budget the screened sweep decides against: a resource per (layer, precision) and its limit.
  public struct ScreeningBudget: Sendable {
    public enum Resource: String, Sendable { case bytes, bits }
    public var resource: Resource
    public var limit: Double
    /// Seed layers per candidate (nil: a sixth of the layers, at least 4).
    public var seedPerCandidate: Int? = nil
    public init(resource: Resource, limit: Double) {
      self.resource = resource
      self.limit = limit
    }
  }

  /// What an analysis found and what it cost.
  public struct Outcome {
    public var result: AnalysisResult
    /// (phase, wall seconds) in order, the total last.
    public var phases: [(String, Double)]
    public var peakMegabytes: Double
  }

  /// Calibrates on every sample of `calibration` (unless `calibrator` has observed them
  /// already), sweeps the first `options.samples`, and adds the Hessian figures when asked.
  ///
  /// - Parameters:
  ///   - metric: the task metric of the calibration samples (labels), scored per layer and candidate.
  public static func run(model: LoadedModel, calibration: [String: Tensor], calibrator given: Calibrator? = nil,
                         metric: TaskMetric? = nil, options: Options, progress: ProgressHandler = { _ in }) throws -> Outcome {
    try options.validate()
    guard model.graph.comparedOutput != nil else { throw MixPrecError.invalidOption(option: "MODEL", rule: "has no outputs to compare (none is floating-point)") }
    _ = try options.outputs.outputNames(in: model.session.graph)  // names checked before any work
    let clock = ContinuousClock()
    let begin = clock.now
    var mark = begin
    var phases: [(String, Double)] = []
    func lap(_ name: String) {
      phases.append((name, (clock.now - mark).seconds))
      mark = clock.now
    }
    try MixPrecError.requireFinite(calibration)
    let session = model.session
    let available = calibration.values.first?.shape.first ?? 0
    let count = min(options.samples, available)
    guard count > 0 else { throw MixPrecError.tooFewSamples(folder: "calibration", samples: available, needed: 1) }
    let feeds = calibration.mapValues { $0.rows(0..<count) }
    var calibrator = given ?? Calibrator(session: session)
    if given == nil {
      progress(.note("calibrating \(calibrator.layerInputs.count) layer inputs on \(available) samples"))
      try calibrator.observe(calibration, batch: options.batch, grams: options.hessian != nil)
      lap("calibration")
    }
    let all = session.graph.layers.map(\.name)
    let names = options.shard.map { s in all.enumerated().filter { $0.offset % s.count == s.index - 1 }.map(\.element) } ?? all
    var sweep = SensitivitySweep(candidates: options.candidates)
    sweep.batch = options.batch
    sweep.outputs = options.outputs
    sweep.granularity = options.weightGranularity
    if options.activationRanges == .dynamic { sweep.method = .dynamic }
    sweep.taskOutput = metric?.output
    let task: ((Tensor, Tensor, Range<Int>) -> Double)? = metric.map { m in { m.score($0, reference: $1, samples: $2) } }
    // The Hessian first: the screened sweep ranks the pairs by its Ω.
    var figures: [String: AnalysisResult.Hessian]? = nil
    var hessianSamples: Int? = nil, hessianSkipped: String? = nil
    if let h = options.hessian {
      let hessianCount = min(h.samples, available)
      let swept = session.graph.layers.filter { names.contains($0.name) && QuantizedLayer.supports(session.graph.nodes[$0.nodeIndex], in: session.graph) }
      do {
        let output = try hessian(session: session, feeds: calibration.mapValues { $0.rows(0..<hessianCount) },
          layers: swept.map(\.name), grams: calibrator.grams, candidates: options.candidates, batch: options.batch,
          options: h, granularity: options.weightGranularity, progress: progress)
        figures = output.figures
        hessianSamples = hessianCount
        phases.append(("hessian traces", output.seconds["traces"] ?? 0))
        if h.eigenSamples > 0 { phases.append(("eigenvalues", output.seconds["eigenvalues"] ?? 0)) }
      } catch let e as GraphError where !h.required {
        // The reason without the list of ops that do have gradients.
        let reason = String(e.description.split(separator: ";").first ?? "")
        hessianSkipped = reason
        progress(.note("Hessian traces skipped: \(reason)"))
      }
      mark = clock.now
    }
    var screening: AnalysisResult.Screening? = nil
    let swept: SensitivitySweep.Result
    if let budget = options.screening, let figures {
      let screened = try ScreenedSweep(sweep: sweep, budget: budget).run(session: session, calibrator: calibrator, feeds: feeds,
        layers: names, hessian: figures, task: task, progress: progress)
      swept = SensitivitySweep.Result(layers: screened.layers, outputs: screened.outputs, reference: screened.reference)
      screening = screened.record
      progress(.note("screened sweep: measured \(screened.record.measuredPairs) of \(screened.record.totalPairs) pairs in \(screened.record.measuredPerRound.count) rounds"))
    } else {
      if options.screening != nil { progress(.note("no Hessian scores to screen with: every pair is measured")) }
      swept = try sweep.run(session: session, calibrator: calibrator, feeds: feeds, layers: names, task: task) { done, total, line in
        progress(.step(phase: "sweep", done: done, total: total, unit: "layers×batches", detail: line))
      }
    }
    lap("sweep")
    var result = AnalysisResult(model: model.name, modelSHA256: model.sha256,
      candidates: options.candidates.map(\.rawValue), samples: count, layers: swept.layers)
    result.outputs = swept.outputs
    result.screening = screening
    result.hessianSamples = hessianSamples
    result.hessianSkipped = hessianSkipped
    if let figures { for i in result.layers.indices { result.layers[i].hessian = figures[result.layers[i].name] } }
    result.shard = options.shard.map { "\($0.index)/\($0.count)" }
    result.weightGranularity = options.weightGranularity == .tensor ? "tensor" : nil
    result.activationRanges = options.activationRanges == .dynamic ? "dynamic" : nil
    result.taskMetric = metric?.name
    result.taskReference = metric?.score(swept.reference, reference: swept.reference, samples: 0..<count)
    result.correlate()
    result.summary = summary(of: session.graph)
    if options.shard == nil && options.rangeComparison {
      result.rangeComparison = try SensitivitySweep.rangeComparison(session: session, calibrator: calibrator, feeds: feeds, analysis: result,
        outputs: OutputSelection(swept.outputs))
      lap("range methods")
    }
    phases.append(("total", (clock.now - begin).seconds))
    return Outcome(result: result, phases: phases, peakMegabytes: ProcessResources.peakResidentMegabytes)
  }

  static func validate(_ o: Options) throws {
    guard !o.candidates.isEmpty, Set(o.candidates).count == o.candidates.count, !o.candidates.contains(.fp32) else {
      throw MixPrecError.invalidOption(option: "--candidates", rule: "must list distinct precisions of fp16, int8 and int4")
    }
    guard o.samples > 0, o.batch > 0 else { throw MixPrecError.invalidOption(option: "--samples and --batch", rule: "must be positive") }
    if let s = o.shard, !(s.count > 0 && (1...s.count).contains(s.index)) {
      throw MixPrecError.invalidOption(option: "--shard", rule: "takes k/n with 1 ≤ k ≤ n, e.g. 2/4")
    }
    if let h = o.hessian, !(h.samples > 0 && h.eigenSamples >= 0 && h.iterations > 0 && h.lanczosSteps > 0 && h.tolerance > 0 && h.tolerance.isFinite) {
      throw MixPrecError.invalidOption(option: "--hessian-samples, --eigen-samples, --trace-iterations, --lanczos-steps and --trace-tolerance",
        rule: "must be positive (--eigen-samples may be 0: no eigenvalues)")
    }
  }

  /// The Hessian figures of `layers` on `feeds`, with a progress step per iteration or layer.
  static func hessian(session: Session, feeds: [String: Tensor], layers: [String], grams: [String: GramCollector],
                      candidates: [Precision], batch: Int, options h: HessianOptions, granularity: WeightGranularity = .channel,
                      progress: ProgressHandler) throws -> HessianAnalysis.Output {
    var estimator = HessianEstimator(seed: h.seed)
    estimator.tolerance = h.tolerance
    estimator.maxIterations = h.iterations
    estimator.lanczosSteps = h.lanczosSteps
    var analysis = HessianAnalysis(estimator: estimator, candidates: candidates)
    analysis.batch = batch
    analysis.eigenSamples = h.eigenSamples
    analysis.granularity = granularity
    return try analysis.run(session: session, feeds: feeds, layers: layers, grams: grams) { phase, done, total, detail in
      progress(.step(phase: phase, done: done, total: total, unit: phase == "lanczos" ? "layers" : "iterations", detail: detail))
    }
  }

  /// The model facts the report's summary shows.
  public static func summary(of graph: Graph) -> AnalysisResult.ModelSummary {
    let layers = graph.layers
    return AnalysisResult.ModelSummary(
      opHistogram: Dictionary(grouping: graph.nodes, by: \.opType).mapValues(\.count), layers: layers.count,
      parameters: layers.reduce(0) { $0 + $1.parameterCount },
      fp32WeightBytes: layers.reduce(0) { $0 + $1.fp32WeightBytes },
      machine: LatencyTable.machine, isa: KernelISA.selected.description,
      weightShapes: Dictionary(layers.map { ($0.name, $0.weightShape) }, uniquingKeysWith: { a, _ in a }))
  }
}
