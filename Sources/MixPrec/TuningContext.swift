import Allocation
import Execution
import Findings
import Foundation
import Quantizers
import TensorCore

/// What one tuning run holds while it compares plans: the tuner and its latency table, the
/// evaluator, and the refinements every compared plan gets.
struct TuningContext {
  let session: Session
  let tuner: Tuner
  let table: LatencyTable
  let latencyFromCache: Bool
  let calibrator: Calibrator
  let evaluator: any PlanEvaluating
  let options: Tuning.Options
  let progress: ProgressHandler
  /// The calibration samples repeated to the latency batch.
  let latencyFeeds: [String: Tensor]
  /// The template at each uniform precision, and its session.
  let uniform: [Precision: PrecisionPlan]
  let uniformSessions: [Precision: Session]
  /// AdaRound's codes per layer and format, shared by every plan this run compares.
  let adaRounded = AdaRoundCache()

  init(model: LoadedModel, template: PrecisionPlan, analysis: AnalysisResult, calibrator: Calibrator, data: TuningData,
       options: Tuning.Options, evaluator: any PlanEvaluating, progress: @escaping ProgressHandler) throws {
    session = model.session
    self.calibrator = calibrator
    self.evaluator = evaluator
    self.options = options
    self.progress = progress
    let batch = options.batch
    latencyFeeds = data.calibration.mapValues { t in t.rows(at: (0..<batch).map { $0 % t.shape[0] }) }
    var uniform: [Precision: PrecisionPlan] = [:]
    for p in [Precision.fp16, .int8, .int4] {
      var u = template
      for i in u.layers.indices where u.layers[i].precision != .fp32 { u.layers[i].precision = p }
      uniform[p] = u
    }
    self.uniform = uniform
    let session = model.session
    uniformSessions = try uniform.mapValues { try session.with(quantized: PlanBuilder.layerQuantizations($0, session: session)) }
    (table, latencyFromCache) = try LatencyTable.cached(session: session, uniform: uniformSessions, feeds: latencyFeeds,
      modelSHA256: model.sha256, runs: options.runs, variant: options.activationRanges == .dynamic ? "dynamic" : "",
      in: options.latencyCache)
    progress(.note("layer latencies \(latencyFromCache ? "from the cache" : "measured") (\(table.machine), batch \(batch)); FP32 \(String(format: "%.3f", table.fp32Seconds * 1e3)) ms"))
    tuner = try Tuner(session: session, template: template, analysis: analysis, latency: table, objective: options.objective)
  }

  /// Median milliseconds of one run at the latency batch.
  func latencyMs(_ s: Session) throws -> Double {
    try LatencyTable.median(runs: options.runs) { _ = try s.run(latencyFeeds) } * 1e3
  }

  /// The post-training refinements of a plan's integer layers, the same for every plan compared.
  func refined(_ p: PrecisionPlan, adaRound: Bool = false) throws -> (plan: PrecisionPlan, codes: [String: [Int8]]) {
    var plan = p
    var codes: [String: [Int8]] = [:]
    if adaRound {
      codes = try PlanBuilder.adaRound(&plan, session: session, calibrator: calibrator, cache: adaRounded,
        progress: { progress(.note($0)) }).codes
    }
    if options.biasCorrection { try PlanBuilder.correctBiases(&plan, session: session, calibrator: calibrator, codes: codes) }
    return (plan, codes)
  }

  /// A solution's point: size, predicted latency and damage; measured KL and metric when asked.
  func point(_ label: String, _ s: AssignmentProblem.Solution, measure: Bool) throws -> TuningSummary.Point {
    var pt = TuningSummary.Point(label: label, weightBytes: tuner.weightBytes(s), predictedLatencyMs: tuner.predictedLatencyMs(s), predictedDamage: s.damage)
    if measure {
      let r = try refined(tuner.plan(s, budget: ""))
      let e = try evaluator.evaluate(r.plan, codes: r.codes)
      pt.measuredDamage = e.damage
      pt.metric = e.metric
    }
    return pt
  }

  /// The precisions of the uniform baselines: the lower candidates, highest first.
  var baselinePrecisions: [Precision] { [Precision.fp16, .int8, .int4].filter(tuner.candidates.contains) }

  /// The uniform baselines with the chosen plan's refinements (same methods, uniform precision).
  func baselines(_ problem: AssignmentProblem, budget: Budget) throws -> [TuningSummary.Point] {
    try baselinePrecisions.map { p in
      let s = problem.evaluate(tuner.layersChoice(p))
      var b = try point("uniform \(p.rawValue)", s, measure: false)
      let r = try refined(tuner.plan(s, budget: budget.description), adaRound: options.adaRound && p != .fp16)
      let e = try evaluator.evaluate(r.plan, codes: r.codes)
      b.measuredDamage = e.damage
      b.metric = e.metric
      b.measuredLatencyMs = try latencyMs(uniformSessions[p]!)
      return b
    }
  }

  /// The solver's error in the budget's own terms, with the value that would work.
  func infeasible(_ e: AllocationError, budget: Budget) -> Error {
    let p = tuner.problem(Budget())
    switch e {
    case .sizeBelowSmallest:
      return TuningError.sizeUnreachable(smallestBytes: Int(p.smallestSize), compression: Double(tuner.fp32Bytes) / max(p.smallestSize, 1))
    case .latencyBelowFastest:
      return TuningError.latencyUnreachable(fastestMs: ((tuner.fixedLatencySeconds ?? 0) + p.smallestLatency) * 1e3, batch: options.batch)
    case .bitsBelowSmallest:
      return TuningError.bitsUnreachable(smallestAverageBits: p.smallestBits / Double(max(1, tuner.parameterCount)))
    default:
      return TuningError.noAssignment(e.description)
    }
  }
}
