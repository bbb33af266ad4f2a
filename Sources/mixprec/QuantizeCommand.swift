import ArgumentParser
import Foundation
import MixPrec
import Quantizers
import Sensitivity
import TensorCore

struct QuantizeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "quantize",
    abstract: "Quantize every layer to one precision (the baseline mixed plans are compared with); write plan.json.")

  @Argument(help: "The ONNX model.") var model: String
  @Option(help: "Calibration folder (one <input name>.npy per model input).") var calib: String
  @Option(help: "fp16, int8 or int4.") var precision: String
  @Option(help: "Range method: minmax, percentile, mse, kl, easyquant (cosine search of weight and activation scales), pact (learned input clipping) or dynamic (each batch's own range at run time, exported as DynamicQuantizeLinear).")
  var calibrator: String = "minmax"
  @Option(name: .customLong("easyquant-interval"), help: "EasyQuant: scale multipliers searched, LOW:HIGH.") var easyquantInterval = "0.5:1.2"
  @Option(name: .customLong("easyquant-steps"), parsing: .unconditional, help: "EasyQuant: grid points in the interval.") var easyquantSteps = 50
  @Option(help: "Activation zero point: asymmetric (uint8) or symmetric (int8).") var scheme: String = "asymmetric"
  @Option(parsing: .unconditional, help: "INT4 only: k per weight scale (32, 64, 128); default one scale per output channel.") var group: Int?
  @Option(name: .customLong("weight-granularity"), help: "Weight scales per layer: tensor (one, for hardware with a scale per tensor), channel (one per output channel) or group (INT4, k per scale from --group; the default with --group).")
  var weightGranularity: String?
  @Option(help: "Where to write the plan.") var plan: String
  @Option(help: "Also write the QDQ ONNX model (runs in ONNX Runtime).") var export: String?
  @Flag(help: "Cross-layer equalization before quantizing (data-free; FP32 function unchanged) and bias absorption.") var cle = false
  @Flag(help: "AdaRound the integer weights on the calibration inputs (codes go to <plan>.codes.npz).") var adaround = false
  @Flag(name: .customLong("bias-correction"), help: "Correct each integer layer's bias for the mean output shift of its quantized weights.")
  var biasCorrection = false
  @Flag(name: .customLong("quantize-activation-matmuls"), help: "Also run MatMuls between two activations (attention) at INT8: both inputs quantized per tensor, int32 products.")
  var quantizeActivationMatmuls = false
  @Option(help: "Evaluation folder with labels: report the task metric of FP32 and of the plan.") var eval: String?
  @Option(parsing: .unconditional, help: "Samples per forward pass (bounds memory).") var batch: Int = 32
  @OptionGroup var outputs: OutputOptions

  func options() throws -> Quantization.Options {
    var o = Quantization.Options()
    guard let p = Precision(rawValue: precision), p != .fp32 else { throw CLIError("--precision must be fp16, int8 or int4, not '\(precision)'") }
    guard let method = RangeMethod(rawValue: calibrator) else {
      throw CLIError("unknown --calibrator '\(calibrator)'; use minmax, percentile, mse, kl, easyquant, pact or dynamic")
    }
    guard let scheme = ActivationScheme(rawValue: scheme) else { throw CLIError("unknown --scheme '\(self.scheme)'; use asymmetric or symmetric") }
    let bounds = easyquantInterval.split(separator: ":").compactMap { Float($0) }
    guard bounds.count == 2, bounds[0] < bounds[1] else {
      throw CLIError("--easyquant-interval takes LOW:HIGH with 0 < LOW < HIGH (e.g. 0.5:1.2) and --easyquant-steps a positive count")
    }
    o.precision = p
    o.method = method
    o.scheme = scheme
    o.weightGroup = group
    guard let granularity = WeightGranularity(rawValue: weightGranularity ?? (group != nil ? "group" : "channel")) else {
      throw CLIError("unknown --weight-granularity '\(weightGranularity ?? "")'; use tensor, channel or group")
    }
    o.weightGranularity = granularity
    o.crossLayerEqualization = cle
    o.adaRound = adaround
    o.biasCorrection = biasCorrection
    o.quantizeActivationProducts = quantizeActivationMatmuls
    o.easyQuantInterval = bounds[0]...bounds[1]
    o.easyQuantSteps = easyquantSteps
    o.batch = batch
    o.outputs = try outputs.selection(folder: calib)
    try o.validate()
    return o
  }

  func run() throws {
    let options = try options()
    let destinations = Artifacts.Destinations(plan: URL(fileURLWithPath: plan), export: export.map(URL.init(fileURLWithPath:)))
    try checkOutputs([("--plan", plan), ("--plan's codes", adaround ? destinations.codes.path : nil), ("--export", export)],
      inputs: [model, calib, eval])
    let model = try openModel(model)
    let calibration = try inputFolder(calib, for: model.graph)
    let evaluation = try eval.map { path -> ([String: Tensor], TaskMetric?) in
      let folder = try inputFolder(path, for: model.graph)
      return (folder.tensors, try TaskMetric(folder: folder, graph: model.graph))
    }
    let q = try Quantization.run(model: model, calibration: calibration.tensors, evaluation: evaluation, options: options,
      progress: ProgressPrinter().handle)
    let kept = q.keptFP32 > 0 ? " (\(q.keptFP32) kept fp32: unsupported)" : ""
    let products = q.plan.activationProducts?.count ?? 0
    let productNote = products > 0 ? " and \(products) activation products" : ""
    print("\(options.precision.rawValue): \(q.layers.count - products) of \(q.plan.layers.count) layers\(productNote) quantized\(kept); layer weights \(formatBytes(q.weightBytes)) vs \(formatBytes(q.fp32WeightBytes)) fp32 (\(String(format: "%.2f", Double(q.fp32WeightBytes) / Double(max(q.weightBytes, 1))))x smaller)")
    if let e = q.evaluation {
      if let d = e.damage {
        print(String(format: "damage to fp32: %.4g on ", d) + e.outputs.map { "\($0.name) (\($0.kind.rawValue))" }.joined(separator: " + "))
      }
      if let a = e.agreement { print(String(format: "argmax agreement with fp32: %.4f over %d rows", a.fraction, a.rows)) }
      if let r = e.reference, let m = e.quantized {
        print("fp32  \(r)")
        print("\(options.precision.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0)) \(m)")
      }
    }
    let written = try Artifacts.write(plan: q.plan, codes: q.codes, layers: q.layers, session: q.session,
      shapes: calibration.tensors.mapValues { [1] + $0.shape.dropFirst() },
      to: destinations)
    if let e = written.export { print("QDQ model -> \(e.path)") }
    print("plan -> \(plan)")
  }
}
