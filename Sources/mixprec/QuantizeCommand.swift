import ArgumentParser
import Execution
import Foundation
import GraphIR
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
  @Option(help: "Range method: minmax, percentile, mse, kl, easyquant (cosine search of weight and activation scales) or pact (learned input clipping).")
  var calibrator: String = "minmax"
  @Option(name: .customLong("easyquant-interval"), help: "EasyQuant: scale multipliers searched, LOW:HIGH.") var easyquantInterval = "0.5:1.2"
  @Option(name: .customLong("easyquant-steps"), help: "EasyQuant: grid points in the interval.") var easyquantSteps = 50
  @Option(help: "Activation zero point: asymmetric (uint8) or symmetric (int8).") var scheme: String = "asymmetric"
  @Option(help: "INT4 only: k per weight scale (32, 64, 128); default one scale per output channel.") var group: Int?
  @Option(help: "Where to write the plan.") var plan: String
  @Option(help: "Also write the QDQ ONNX model (runs in ONNX Runtime).") var export: String?
  @Flag(help: "Cross-layer equalization before quantizing (data-free; FP32 function unchanged) and bias absorption.") var cle = false
  @Flag(help: "AdaRound the integer weights on the calibration inputs (codes go to <plan>.codes.npz).") var adaround = false
  @Flag(name: .customLong("bias-correction"), help: "Correct each integer layer's bias for the mean output shift of its quantized weights.")
  var biasCorrection = false
  @Option(help: "Evaluation folder with labels: report the task metric of FP32 and of the plan.") var eval: String?
  @Option(help: "Samples per forward pass (bounds memory).") var batch: Int = 32

  func run() throws {
    guard let precision = Precision(rawValue: precision), precision != .fp32 else {
      throw CLIError("--precision must be fp16, int8 or int4, not '\(self.precision)'")
    }
    guard let method = RangeMethod(rawValue: calibrator) else {
      throw CLIError("unknown --calibrator '\(calibrator)'; use minmax, percentile, mse, kl, easyquant or pact")
    }
    guard let scheme = ActivationScheme(rawValue: scheme) else {
      throw CLIError("unknown --scheme '\(self.scheme)'; use asymmetric or symmetric")
    }
    if let group, precision != .int4 || group <= 0 || group % 16 != 0 {
      throw CLIError("--group applies to int4 and must be a positive multiple of 16 (32, 64, 128), not \(group)")
    }
    guard batch > 0 else { throw CLIError("--batch must be positive") }
    try requireOutputFolder(plan, option: "--plan")
    if let export { try requireOutputFolder(export, option: "--export") }
    let bounds = easyquantInterval.split(separator: ":").compactMap { Float($0) }
    guard bounds.count == 2, bounds[0] > 0, bounds[0] < bounds[1], easyquantSteps > 0 else {
      throw CLIError("--easyquant-interval takes LOW:HIGH with 0 < LOW < HIGH (e.g. 0.5:1.2) and --easyquant-steps a positive count")
    }
    let interval = bounds[0]...bounds[1]
    var (_, session) = try openModel(model)
    let original = session
    var equalizedPairs: [[String]]? = nil
    var absorbed: [AbsorbedBias] = []
    let calibration = try InputFolder(URL(fileURLWithPath: calib), for: session.graph)
    if cle {
      let (equalized, pairs) = try Equalization.apply(to: session, checkingOn: calibration.tensors.mapValues { $0.rows(0..<min(4, $0.shape[0])) })
      equalizedPairs = pairs
      absorbed = try BiasAbsorption.measure(equalized.graph, pairs: pairs, feeds: calibration.tensors.mapValues { $0.rows(0..<min(32, $0.shape[0])) })
      session = try Session(graph: BiasAbsorption.apply(equalized.graph, absorbed))
      progress("cross-layer equalization: \(pairs.count) conv pairs; bias absorption: \(absorbed.count)")
    }
    let evaluation = try eval.map { try InputFolder(URL(fileURLWithPath: $0), for: session.graph) }
    var calibrator = Calibrator(session: session)
    if precision != .fp16 {
      progress("calibrating \(calibrator.layerInputs.count) layer inputs on \(calib)")
      try calibrator.observe(calibration.tensors, batch: batch, grams: adaround || biasCorrection || method == .easyquant || method == .pact)
    }
    var result = try PlanBuilder.uniform(
      session: session, calibrator: calibrator, precision: precision, method: method, scheme: scheme,
      weightGroup: group, model: URL(fileURLWithPath: model).lastPathComponent, modelSHA256: try sha256Hex(ofFile: model))
    result.equalizedPairs = equalizedPairs
    result.absorbedBiases = absorbed.isEmpty ? nil : absorbed
    if method == .easyquant || method == .pact, precision != .fp16 {
      let refined = try PlanBuilder.refineRanges(
        &result, session: session, calibrator: calibrator, method: method, interval: interval, steps: easyquantSteps)
      progress("\(method.rawValue): \(refined) layers refined on their outputs")
    }
    var codes: [String: [Int8]] = [:]
    if adaround && precision != .fp16 {
      codes = try PlanBuilder.adaRound(&result, session: session, calibrator: calibrator, progress: progress).codes
      let file = URL(fileURLWithPath: plan).deletingPathExtension().appendingPathExtension("codes.npz")
      try NPZ.write(codes.mapValues { Tensor(dtype: .int8, shape: [$0.count], storage: .int($0.map(Int64.init))) }, to: file)
      result.codesFile = file.lastPathComponent
    }
    if biasCorrection && precision != .fp16 {
      try PlanBuilder.correctBiases(&result, session: session, calibrator: calibrator, codes: codes)
    }
    let layers = try PlanBuilder.layerQuantizations(result, session: session, codes: codes)
    let bytes = PlanBuilder.weightBytes(result, graph: session.graph)
    let fp32Bytes = session.graph.layers.reduce(0) { $0 + 4 * $1.parameterCount }
    let kept = result.layers.filter { $0.precision == .fp32 }.count
    print("\(precision.rawValue): \(layers.count) of \(result.layers.count) layers quantized\(kept > 0 ? " (\(kept) kept fp32: unsupported)" : ""); layer weights \(formatBytes(bytes)) vs \(formatBytes(fp32Bytes)) fp32 (\(String(format: "%.2f", Double(fp32Bytes) / Double(max(bytes, 1))))x smaller)")
    var figures = PlanFigures(weightBytes: bytes)
    if let folder = evaluation {
      let reference = try original.runInBatches(folder.tensors, batch: batch)  // the model as given
      let mixed = try session.with(quantized: layers).runInBatches(folder.tensors, batch: batch)
      if let first = session.graph.outputs.first, let a = reference[first.name], let b = mixed[first.name] {
        let agreement = argmaxAgreement(a, b)
        print(String(format: "argmax agreement with fp32: %.4f over %d rows", agreement.fraction, agreement.rows))
      }
      if let r = try taskMetric(folder, session.graph, reference), let q = try taskMetric(folder, session.graph, mixed) {
        print("fp32  \(r.detail)")
        print("\(precision.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0)) \(q.detail)")
        figures.metric = r.name
        figures.reference = r.value
        figures.value = q.value
      }
    }
    result.measured = figures
    if let export {
      let shapes = calibration.tensors.mapValues { [1] + $0.shape.dropFirst() }
      try PlanBuilder.exportQDQ(layers, session: session, shapes: shapes, to: URL(fileURLWithPath: export))
      print("QDQ model -> \(export)")
    }
    // The plan last: it exists only when everything it refers to was written.
    try result.write(to: URL(fileURLWithPath: plan))
    print("plan -> \(plan)")
  }
}

/// Fraction of rows (all axes but the last) whose argmax agrees between two outputs.
func argmaxAgreement(_ a: Tensor, _ b: Tensor) -> (fraction: Double, rows: Int) {
  let ra = TaskMetrics.argmaxRows(a), rb = TaskMetrics.argmaxRows(b)
  guard ra.count == rb.count, !ra.isEmpty else { return (0, 0) }
  return (Double(zip(ra, rb).filter { $0 == $1 }.count) / Double(ra.count), ra.count)
}
