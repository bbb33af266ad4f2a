import Execution
import Foundation
import Sensitivity
import TensorCore

extension QuantizationAwareTraining {
  /// What one fine-tuning run returned and cost.
  public struct Run {
    public var plan: PrecisionPlan
    public var codes: [String: [Int8]]
    public var seconds: Double
    /// The mean training loss of each epoch.
    public var epochLoss: [Double]
  }

  /// Fine-tunes `plan` (with its AdaRound `codes`) on `feeds`, reporting each step and a summary
  /// line. The task losses need `labels` (one per sample of `feeds`).
  public static func fineTune(session: Session, plan: PrecisionPlan, codes: [String: [Int8]], feeds: [String: Tensor],
                              labels: TaskLabels?, options: Options, progress: ProgressHandler = { _ in }) throws -> Run {
    if options.loss != .distillation && labels == nil {
      throw MixPrecError.missingLabels(folder: "the training folder", needer: "--qat-loss \(options.loss.rawValue)")
    }
    let trainer = try QuantizationAwareTraining(session: session, plan: plan, codes: codes)
    let clock = ContinuousClock(), t0 = clock.now
    let trained = try trainer.train(feeds, labels: labels, options: options) { step, steps, loss in
      progress(.step(phase: "qat", done: step, total: steps, unit: "steps", detail: String(format: "loss %.4g", loss)))
    }
    let seconds = (clock.now - t0).seconds
    progress(.note(String(format: "QAT: %d epochs, mean loss per epoch %@ (%.1f s)", options.epochs,
      trained.epochLoss.map { String(format: "%.4g", $0) }.joined(separator: " → "), seconds)))
    return Run(plan: trained.plan, codes: trained.codes, seconds: seconds, epochLoss: trained.epochLoss)
  }
}
