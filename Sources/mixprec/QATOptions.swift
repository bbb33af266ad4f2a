import ArgumentParser
import Execution
import Foundation
import MixPrec
import TensorCore

/// The quantization-aware fine-tuning options shared by `tune` and `bench qat`.
struct QATOptions: ParsableArguments {
  @Option(help: "Quantization-aware fine-tuning of the chosen plan: epochs over the calibration samples (0: none).") var qat: Int = 0
  @Option(name: .customLong("qat-data"), help: "QAT: the folder of training samples (default: the calibration samples).") var qatData: String?
  @Option(name: .customLong("qat-loss"), help: "QAT loss: distill (KL to FP32, no labels), task (cross-entropy or CTC on the folder's labels) or both.") var qatLoss: String = "distill"
  @Option(name: .customLong("qat-batch"), help: "QAT mini-batch size.") var qatBatch: Int = 8
  @Option(name: .customLong("qat-rate"), help: "QAT: the largest latent-weight update per step, in quantization steps (normalized SGD with momentum; 0 keeps the codes).") var qatRate: Float = 0.01
  @Option(name: .customLong("qat-scale-rate"), help: "QAT: Adam step of the log per-channel weight scales (0: fixed).") var qatScaleRate: Float = 1e-3
  @Option(name: .customLong("qat-bias-rate"), help: "QAT: Adam step of the biases, relative to each layer's bias magnitude (0: fixed).") var qatBiasRate: Float = 1e-3
  @Option(name: .customLong("qat-clip-rate"), help: "QAT: Adam step of the log PACT clip bounds of the layer inputs (0: fixed).") var qatClipRate: Float = 1e-3

  func validate() throws {
    guard qat >= 0, qatBatch > 0, [qatRate, qatScaleRate, qatBiasRate, qatClipRate].allSatisfy({ $0 >= 0 && $0.isFinite }) else {
      throw CLIError("--qat-batch must be positive; --qat and the --qat-*-rate options not negative")
    }
    if qatData != nil && qat == 0 { throw CLIError("--qat-data needs --qat EPOCHS") }
    guard QuantizationAwareTraining.Loss(rawValue: qatLoss) != nil else { throw CLIError("unknown --qat-loss '\(qatLoss)'; use distill, task or both") }
  }

  var trainingOptions: QuantizationAwareTraining.Options {
    var o = QuantizationAwareTraining.Options()
    o.epochs = qat
    o.batch = qatBatch
    o.weightRate = qatRate
    o.scaleRate = qatScaleRate
    o.biasRate = qatBiasRate
    o.clipRate = qatClipRate
    o.loss = QuantizationAwareTraining.Loss(rawValue: qatLoss) ?? .distillation
    return o
  }

  /// Fine-tunes `plan` (with its AdaRound `codes`) on `feeds`, with a progress bar and a summary
  /// line; returns the trained plan and codes and the seconds it took.
  func fineTune(session: Session, plan: PrecisionPlan, codes: [String: [Int8]], feeds: [String: Tensor], folder: InputFolder,
                progress: (String) -> Void) throws -> (plan: PrecisionPlan, codes: [String: [Int8]], seconds: Double, epochLoss: [Double]) {
    let options = trainingOptions
    var labels: QuantizationAwareTraining.Labels? = nil
    if options.loss != .distillation {
      if let ids = try folder.integerLabels() {
        labels = .classes(ids)
      } else if let texts = try folder.textLabels(), let dictionary = session.graph.metadata["character"] {
        labels = .texts(texts, dictionary: dictionary)
      } else {
        throw CLIError("--qat-loss \(qatLoss) needs labels.npy (classes) or labels.txt (texts, for a model with a CTC dictionary) in '\(folder.url.path)'")
      }
    }
    let trainer = try QuantizationAwareTraining(session: session, plan: plan, codes: codes)
    var bar: ProgressBar? = nil
    let clock = ContinuousClock(), t0 = clock.now
    let trained = try trainer.train(feeds, labels: labels, options: options) { step, steps, loss in
      if bar == nil { bar = ProgressBar("qat", total: steps, unit: "steps") }
      bar!.update(step, String(format: "loss %.4g", loss))
    }
    bar?.finish()
    let d = clock.now - t0
    let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    progress(String(format: "QAT: %d epochs, mean loss per epoch %@ (%.1f s)", qat,
      trained.epochLoss.map { String(format: "%.4g", $0) }.joined(separator: " → "), seconds))
    return (trained.plan, trained.codes, seconds, trained.epochLoss)
  }
}
