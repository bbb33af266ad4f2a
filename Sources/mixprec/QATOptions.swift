import ArgumentParser
import MixPrec

/// The quantization-aware fine-tuning options shared by `tune` and `bench qat`.
struct QATOptions: ParsableArguments {
  @Option(parsing: .unconditional, help: "Quantization-aware fine-tuning of the chosen plan: epochs over the calibration samples (0: none).") var qat: Int = 0
  @Option(name: .customLong("qat-data"), help: "QAT: the folder of training samples (default: the calibration samples).") var qatData: String?
  @Option(name: .customLong("qat-loss"), help: "QAT loss: distill (KL to FP32, no labels), task (cross-entropy or CTC on the folder's labels) or both.") var qatLoss: String = "distill"
  @Option(name: .customLong("qat-batch"), parsing: .unconditional, help: "QAT mini-batch size.") var qatBatch: Int = 8
  @Option(name: .customLong("qat-rate"), parsing: .unconditional, help: "QAT: the largest latent-weight update per step, in quantization steps (normalized SGD with momentum; 0 keeps the codes).") var qatRate: Float = 0.01
  @Option(name: .customLong("qat-scale-rate"), parsing: .unconditional, help: "QAT: Adam step of the log per-channel weight scales (0: fixed).") var qatScaleRate: Float = 1e-3
  @Option(name: .customLong("qat-bias-rate"), parsing: .unconditional, help: "QAT: Adam step of the biases, relative to each layer's bias magnitude (0: fixed).") var qatBiasRate: Float = 1e-3
  @Option(name: .customLong("qat-clip-rate"), parsing: .unconditional, help: "QAT: Adam step of the log PACT clip bounds of the layer inputs (0: fixed).") var qatClipRate: Float = 1e-3

  func validate() throws {
    guard qat >= 0, qatBatch > 0, [qatRate, qatScaleRate, qatBiasRate, qatClipRate].allSatisfy({ $0 >= 0 && $0.isFinite }) else {
      throw CLIError("--qat-batch must be positive; --qat and the --qat-*-rate options not negative")
    }
    if qatData != nil && qat == 0 { throw CLIError("--qat-data needs --qat EPOCHS") }
    guard QuantizationAwareTraining.Loss(rawValue: qatLoss) != nil else { throw CLIError("unknown --qat-loss '\(qatLoss)'; use distill, task or both") }
  }

  /// The training options, nil without `--qat`.
  var trainingOptions: QuantizationAwareTraining.Options? {
    guard qat > 0 else { return nil }
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
}
