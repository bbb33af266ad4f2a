import Execution
import Foundation
import Quantizers
import Sensitivity
import TensorCore

/// What running a plan on held-out samples measured.
public struct PlanEvaluation: Sendable, Equatable {
  /// KL(FP32 output ‖ plan output), averaged over the rows of the first output.
  public var kl: Double
  /// The task metric on the samples' labels, when they exist.
  public var metric: Double?
  public init(kl: Double, metric: Double?) {
    self.kl = kl
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

/// Runs plans on held-out samples and compares them with FP32.
public struct PlanEvaluator: PlanEvaluating {
  public let session: Session
  public let feeds: [String: Tensor]
  public let batch: Int
  /// The task metric of the samples' labels (nil without labels).
  public let metric: TaskMetric?
  public let reference: Tensor
  public let referenceMetric: Double?

  public init(session: Session, feeds: [String: Tensor], batch: Int = 32, metric: TaskMetric?) throws {
    self.session = session
    self.feeds = feeds
    self.batch = batch
    self.metric = metric
    guard let output = session.graph.comparedOutput?.name else { throw PlanError("the model has no floating-point output to compare") }
    guard let y = try session.runInBatches(feeds, batch: batch)[output] else { throw PlanError("the model produced no '\(output)'") }
    reference = y
    referenceMetric = metric?.score(y)
  }

  /// KL to FP32 and task metric of `plan` (with AdaRound/QAT `codes` where given).
  public func evaluate(_ plan: PrecisionPlan, codes: [String: [Int8]] = [:]) throws -> PlanEvaluation {
    let mixed = try session.with(quantized: PlanBuilder.layerQuantizations(plan, session: session, codes: codes))
    guard let output = session.graph.comparedOutput?.name else { throw PlanError("the model has no floating-point output to compare") }
    guard let y = try mixed.runInBatches(feeds, batch: batch)[output] else { throw PlanError("the model produced no '\(output)'") }
    return PlanEvaluation(kl: OutputComparison.of(y, reference: reference).kl, metric: metric?.score(y))
  }
}
