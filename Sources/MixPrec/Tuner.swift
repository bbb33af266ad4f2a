import Findings
import Allocation
import Execution
import Foundation
import GraphIR
import Quantizers
import Sensitivity
import TensorCore

/// The budgeted choice of a precision per layer and its proof: the assignment problem built
/// from an analysis (damage per layer and candidate), the layers' sizes and measured latencies,
/// solved exactly, and the chosen plan run on held-out samples.
public final class Tuner {
  /// What the solver minimizes.
  public enum Objective: String, Sendable {
    /// The KL each layer alone causes at each precision (the sweep).
    case measured
    /// The HAWQ-V2 score Tr(H)/n·‖Q(W) − W‖² (needs `analyze --hessian`).
    case hessian
    /// Half of each, each divided by its mean over the entries.
    case blend
  }

  public let session: Session
  /// The INT8 plan with every layer's input range (INT4 layers use the same uint8 inputs).
  public let template: PrecisionPlan
  public let analysis: AnalysisResult
  public let latency: LatencyTable?
  public let objective: Objective
  /// Candidate precisions, FP32 included (damage 0).
  public let candidates: [Precision]
  let layers: [Layer]
  /// Mean one-layer KL and mean HAWQ score over all entries (the blend's units).
  let meanKL: Double, meanScore: Double

  public init(session: Session, template: PrecisionPlan, analysis: AnalysisResult, latency: LatencyTable?, objective: Objective) throws {
    self.session = session
    self.template = template
    self.analysis = analysis
    self.latency = latency
    self.objective = objective
    candidates = [.fp32] + analysis.candidates.compactMap(Precision.init(rawValue:))
    let analyzed = Set(analysis.layers.map(\.name))
    layers = session.graph.layers.filter { analyzed.contains($0.name) }
    let kls = analysis.layers.flatMap { $0.sensitivity.values.map(\.damage) }
    let scores = analysis.layers.flatMap { $0.hessian?.score.values.map { $0 } ?? [] }
    meanKL = kls.reduce(0, +) / Double(max(kls.count, 1))
    meanScore = scores.reduce(0, +) / Double(max(scores.count, 1))
    if objective != .measured, analysis.layers.contains(where: { $0.hessian == nil }) {
      throw TuningError.objectiveNeedsHessian(objective: objective.rawValue)
    }
  }

  /// Weight bytes (weights + scales) per layer and candidate.
  public var sizes: [String: [Precision: Int]] {
    Dictionary(uniqueKeysWithValues: layers.map { l in
      (l.name, Dictionary(uniqueKeysWithValues: candidates.map { p in (p, PlanBuilder.layerWeightBytes(l, precision: p, group: nil, graph: session.graph)) }))
    })
  }

  /// FP32 bytes of the analyzed layers' weights.
  public var fp32Bytes: Int { layers.reduce(0) { $0 + $1.fp32WeightBytes } }

  func damage(_ name: String, _ p: Precision) -> Double {
    guard p != .fp32, let l = analysis.layers.first(where: { $0.name == name }) else { return 0 }
    let kl = l.sensitivity[p.rawValue]?.damage ?? .infinity
    let score = l.hessian?.score[p.rawValue] ?? .infinity
    switch objective {
    case .measured: return kl
    case .hessian: return score
    case .blend:
      return 0.5 * kl / max(meanKL, 1e-30) + 0.5 * score / max(meanScore, 1e-30)
    }
  }

  /// The assignment problem under `budget` (max-drop is handled by `search`).
  public func problem(_ budget: Budget) -> AssignmentProblem {
    let sizes = self.sizes
    let options = layers.map { l in
      candidates.map { p -> AssignmentProblem.Option in
        let lat = latency.flatMap { t in t.layers[l.name].flatMap { $0[p.rawValue] } } ?? 0
        return AssignmentProblem.Option(label: p.rawValue, damage: max(damage(l.name, p), 0), size: Double(sizes[l.name]![p]!),
          latency: lat, bits: Double(l.weightCount * p.weightBits))
      }
    }
    var problem = AssignmentProblem(layers: options)
    let total = Double(fp32Bytes)
    var size = budget.sizeBytes
    if let c = budget.compression { size = min(size ?? .infinity, total / c) }
    problem.sizeBudget = size
    if let b = budget.averageBits { problem.bitsBudget = b * Double(parameterCount) }
    if let l = budget.latencySeconds, let fixed = fixedLatencySeconds {
      problem.latencyBudget = l - fixed
    }
    return problem
  }

  /// What the analyzed layers leave of the FP32 run (other ops, the run's own overhead): the solver
  /// sees layer latencies only, so a latency budget is this much smaller for it.
  public var fixedLatencySeconds: Double? {
    latency.map { t in t.fp32Seconds - layers.reduce(0) { $0 + (t.layers[$1.name]?["fp32"] ?? 0) } }
  }

  /// The plan for a solution of `problem`.
  public func plan(_ s: AssignmentProblem.Solution, budget: String) -> PrecisionPlan {
    var plan = template
    plan.budget = budget
    let chosen = Dictionary(uniqueKeysWithValues: zip(layers.map(\.name), s.choice.map { candidates[$0] }))
    for i in plan.layers.indices {
      plan.layers[i].precision = chosen[plan.layers[i].name] ?? .fp32
      if plan.layers[i].precision == .fp16 || plan.layers[i].precision == .fp32 { plan.layers[i].input = nil }
    }
    return plan
  }

  /// Precision per layer of a solution.
  public func assignment(_ s: AssignmentProblem.Solution) -> [String: Precision] {
    Dictionary(uniqueKeysWithValues: zip(layers.map(\.name), s.choice.map { candidates[$0] }))
  }

  /// Predicted end-to-end milliseconds of a solution.
  public func predictedLatencyMs(_ s: AssignmentProblem.Solution) -> Double? {
    latency.map { $0.predict(assignment(s)) * 1e3 }
  }

  /// The choice putting every layer at `p`.
  public func layersChoice(_ p: Precision) -> [Int] {
    [Int](repeating: candidates.firstIndex(of: p) ?? 0, count: layers.count)
  }

  /// Weights of the analyzed layers.
  public var parameterCount: Int { layers.reduce(0) { $0 + $1.weightCount } }

  /// Weight bytes (weights + scales) of a solution over the analyzed layers.
  public func weightBytes(_ s: AssignmentProblem.Solution) -> Int { Int(s.size) }
}
