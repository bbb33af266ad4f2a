import Execution
import Findings
import Foundation
import Quantizers
import Sensitivity
import TensorCore

/// What running a plan on held-out samples measured.
public struct PlanEvaluation: Sendable, Equatable {
  /// The damage to the FP32 outputs (`OutputComparison.damage`: per output kind, summed).
  public var damage: Double
  /// The task metric on the samples' labels, when they exist.
  public var metric: Double?
  public init(damage: Double, metric: Double?) {
    self.damage = damage
    self.metric = metric
  }
}

/// Measures plans: the real one runs them on the integer/half kernels; tests pass a fake whose
/// metric is a known function of the plan.
public protocol PlanEvaluating {
  /// The FP32 model's task metric on the same samples (nil without labels).
  var referenceMetric: Double? { get }
  func evaluate(_ plan: PrecisionPlan, codes: [String: [Int8]]) throws -> PlanEvaluation
}

/// Runs plans on held-out samples and compares them with FP32 on the compared outputs.
public struct PlanEvaluator: PlanEvaluating {
  public let session: Session
  public let feeds: [String: Tensor]
  public let batch: Int
  /// The task metric of the samples (nil without one), scored on its output or the first compared one.
  public let metric: TaskMetric?
  /// The outputs compared and their kinds (an analysis's, so plans are measured as the sweep measured layers).
  public let outputs: [ComparedOutput]
  public let reference: [String: Tensor]
  public let referenceMetric: Double?

  /// - Parameter outputs: which outputs to compare and as what; kinds not given are detected on `feeds`.
  public init(session: Session, feeds: [String: Tensor], batch: Int = 32, metric: TaskMetric?,
              outputs: OutputSelection = OutputSelection()) throws {
    self.session = session
    self.feeds = feeds
    self.batch = batch
    self.metric = metric
    reference = try session.runInBatches(feeds, batch: batch)
    let compared = try outputs.resolve(graph: session.graph, reference: reference)
    if let metric {
      let fp32 = try Self.scored(metric, reference, compared)
      referenceMetric = metric.score(fp32, reference: fp32)
    } else {
      referenceMetric = nil
    }
    self.outputs = compared
  }

  /// Damage to FP32 and task metric of `plan` (with AdaRound/QAT `codes` where given).
  public func evaluate(_ plan: PrecisionPlan, codes: [String: [Int8]] = [:]) throws -> PlanEvaluation {
    let mixed = try session.with(quantized: PlanBuilder.layerQuantizations(plan, session: session, codes: codes))
    let y = try mixed.runInBatches(feeds, batch: batch)
    var sums = OutputComparison.Outputs(outputs)
    try sums.add(y, reference: reference)
    let value = try metric.map { m in m.score(try Self.scored(m, y, outputs), reference: try Self.scored(m, reference, outputs)) }
    return PlanEvaluation(damage: sums.result.damage, metric: value)
  }

  /// The output `metric` scores among `values`: its own, else the first compared one.
  static func scored(_ metric: TaskMetric, _ values: [String: Tensor], _ outputs: [ComparedOutput]) throws -> Tensor {
    guard let name = metric.outputName(compared: outputs.map(\.name)), let t = values[name] else {
      throw PlanError("the model produced no '\(metric.outputName(compared: outputs.map(\.name)) ?? "compared output")' to score")
    }
    return t
  }
}
