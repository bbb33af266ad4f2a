import Execution
import Findings
import Foundation
import GraphIR
import Quantizers
import Sensitivity
import TensorCore

/// The uniform-precision pipeline (`mixprec quantize`): every supported layer at one precision,
/// with the optional data-free steps (cross-layer equalization, bias absorption), range
/// refinement (EasyQuant, PACT), AdaRound and bias correction.
public enum Quantization {
  public struct Options: Sendable {
    public var precision: Precision = .int8
    public var method: RangeMethod = .minmax
    public var scheme: ActivationScheme = .asymmetric
    /// INT4 only: inputs per weight scale (a multiple of 16), nil for one scale per output channel.
    public var weightGroup: Int? = nil
    /// One weight scale per tensor, output channel (default) or group (`weightGroup`, INT4).
    public var weightGranularity: WeightGranularity = .channel
    public var crossLayerEqualization = false
    public var adaRound = false
    public var biasCorrection = false
    /// Also run every MatMul between two activations (attention) at INT8, both inputs quantized
    /// per tensor with calibrated ranges (integer precisions only).
    public var quantizeActivationProducts = false
    /// EasyQuant: the scale multipliers searched and the grid points in that interval.
    public var easyQuantInterval: ClosedRange<Float> = 0.5...1.2
    public var easyQuantSteps = 50
    /// Samples per forward pass (bounds memory).
    public var batch = 32
    /// The outputs the evaluation's damage is measured on.
    public var outputs = OutputSelection()
    public init() {}
  }

  /// The plan and what it does to the model.
  public struct QuantizedModel {
    public var plan: PrecisionPlan
    /// AdaRound codes by layer (empty without AdaRound).
    public var codes: [String: [Int8]]
    /// The plan's layers as the runtime and the export take them.
    public var layers: [String: LayerQuantization]
    /// The model the plan applies to (equalized under `crossLayerEqualization`).
    public var session: Session
    public var weightBytes: Int
    public var fp32WeightBytes: Int
    /// Layers kept FP32 because the kernels do not support them.
    public var keptFP32: Int
    /// Measured on the evaluation samples, when given.
    public var evaluation: Evaluation?
  }

  /// The plan run on evaluation samples beside the model as given.
  public struct Evaluation {
    /// Fraction (and count) of first-output rows whose argmax agrees with FP32's.
    public var agreement: (fraction: Double, rows: Int)?
    /// The damage to the FP32 outputs (per output kind, summed) and the outputs it was measured on.
    public var damage: Double?
    public var outputs: [ComparedOutput] = []
    /// FP32's and the plan's task metric lines, when the folder has labels.
    public var reference: String?
    public var quantized: String?
  }

  /// - Parameters:
  ///   - calibration: the calibration samples (every one is observed).
  ///   - evaluation: held-out samples and their task metric, to measure the plan on.
  public static func run(model: LoadedModel, calibration: [String: Tensor], evaluation: (feeds: [String: Tensor], metric: TaskMetric?)? = nil,
                         options o: Options, progress: ProgressHandler = { _ in }) throws -> QuantizedModel {
    try o.validate()
    try MixPrecError.requireFinite(calibration)
    let original = model.session
    var session = original
    var equalizedPairs: [[String]]? = nil
    var absorbed: [AbsorbedBias] = []
    if o.crossLayerEqualization {
      let (equalized, pairs) = try Equalization.apply(to: session, checkingOn: calibration.mapValues { $0.rows(0..<min(4, $0.shape[0])) })
      equalizedPairs = pairs
      absorbed = try BiasAbsorption.measure(equalized.graph, pairs: pairs, feeds: calibration.mapValues { $0.rows(0..<min(32, $0.shape[0])) })
      session = try Session(graph: BiasAbsorption.apply(equalized.graph, absorbed))
      progress(.note("cross-layer equalization: \(pairs.count) conv pairs; bias absorption: \(absorbed.count)"))
    }
    let integer = o.precision != .fp16
    let products = integer && o.quantizeActivationProducts
    var calibrator = Calibrator(session: session, products: products)
    let needsGrams = o.adaRound || o.biasCorrection || o.method == .easyquant || o.method == .pact
    if integer && (o.method != .dynamic || needsGrams || products) {
      progress(.note("calibrating \(calibrator.layerInputs.count) layer inputs on \(calibration.values.first?.shape.first ?? 0) samples"))
      try calibrator.observe(calibration, batch: o.batch, grams: needsGrams)
    }
    var plan = try PlanBuilder.uniform(session: session, calibrator: calibrator, precision: o.precision, method: o.method,
      scheme: o.scheme, weightGroup: o.weightGroup, granularity: o.weightGranularity, model: model.name, modelSHA256: model.sha256)
    plan.equalizedPairs = equalizedPairs
    plan.absorbedBiases = absorbed.isEmpty ? nil : absorbed
    if products {
      let p = try PlanBuilder.products(session: session, calibrator: calibrator, method: o.method)
      plan.activationProducts = p.isEmpty ? nil : p
      progress(.note("activation products at int8: \(p.count) MatMuls between two activations"))
    }
    if integer && (o.method == .easyquant || o.method == .pact) {
      let refined = try PlanBuilder.refineRanges(&plan, session: session, calibrator: calibrator, method: o.method,
        interval: o.easyQuantInterval, steps: o.easyQuantSteps)
      progress(.note("\(o.method.rawValue): \(refined) layers refined on their outputs"))
    }
    var codes: [String: [Int8]] = [:]
    if integer && o.adaRound {
      codes = try PlanBuilder.adaRound(&plan, session: session, calibrator: calibrator, progress: { progress(.note($0)) }).codes
    }
    if integer && o.biasCorrection {
      try PlanBuilder.correctBiases(&plan, session: session, calibrator: calibrator, codes: codes)
    }
    let layers = try PlanBuilder.layerQuantizations(plan, session: session, codes: codes)
    let bytes = PlanBuilder.weightBytes(plan, graph: session.graph)
    let fp32Bytes = session.graph.layers.reduce(0) { $0 + $1.fp32WeightBytes }
    var figures = PlanFigures(weightBytes: bytes)
    var measured: Evaluation? = nil
    if let (feeds, metric) = evaluation {
      let reference = try original.runInBatches(feeds, batch: o.batch)  // the model as given
      let mixed = try session.with(quantized: layers).runInBatches(feeds, batch: o.batch)
      var e = Evaluation()
      e.outputs = try o.outputs.resolve(graph: session.graph, reference: reference)
      var sums = OutputComparison.Outputs(e.outputs)
      try sums.add(mixed, reference: reference)
      e.damage = sums.result.damage
      if let first = e.outputs.first, let a = reference[first.name], let b = mixed[first.name] {
        e.agreement = Quantization.argmaxAgreement(a, b)
      }
      if let metric, let name = metric.outputName(compared: e.outputs.map(\.name)), let a = reference[name], let b = mixed[name] {
        e.reference = metric.detail(a, reference: a)
        e.quantized = metric.detail(b, reference: a)
        figures.metric = metric.name
        figures.reference = metric.score(a, reference: a)
        figures.value = metric.score(b, reference: a)
      }
      measured = e
    }
    plan.measured = figures
    return QuantizedModel(plan: plan, codes: codes, layers: layers, session: session, weightBytes: bytes, fp32WeightBytes: fp32Bytes,
      keptFP32: plan.layers.filter { $0.precision == .fp32 }.count, evaluation: measured)
  }
}

extension Quantization {
  /// Fraction of rows (all axes but the last) whose argmax agrees between two outputs.
  public static func argmaxAgreement(_ a: Tensor, _ b: Tensor) -> (fraction: Double, rows: Int) {
    let ra = TaskMetrics.argmaxRows(a), rb = TaskMetrics.argmaxRows(b)
    guard ra.count == rb.count, !ra.isEmpty else { return (0, 0) }
    return (Double(zip(ra, rb).filter { $0 == $1 }.count) / Double(ra.count), ra.count)
  }
}

extension Quantization.Options {
  /// Checks the values before any work; the pipeline calls it too.
  public func validate() throws {
    let o = self
    guard o.precision != .fp32 else { throw MixPrecError.invalidOption(option: "--precision", rule: "must be fp16, int8 or int4, not 'fp32'") }
    if o.method == .dynamic && o.scheme == .symmetric {
      throw MixPrecError.invalidOption(option: "--scheme", rule: "symmetric does not go with --calibrator dynamic (DynamicQuantizeLinear gives uint8 codes with a zero point)")
    }
    if o.quantizeActivationProducts && o.precision == .fp16 {
      throw MixPrecError.invalidOption(option: "--quantize-activation-matmuls", rule: "runs products at int8; it needs --precision int8 or int4")
    }
    if let group = o.weightGroup, o.precision != .int4 || group <= 0 || group % 16 != 0 {
      throw MixPrecError.invalidOption(option: "--group", rule: "applies to int4 and must be a positive multiple of 16 (32, 64, 128), not \(group)")
    }
    if (o.weightGranularity == .group) != (o.weightGroup != nil) {
      throw MixPrecError.invalidOption(option: "--weight-granularity",
        rule: "group needs --group N (int4), and --group goes with granularity group")
    }
    if o.weightGranularity == .tensor && o.method == .easyquant {
      throw MixPrecError.invalidOption(option: "--weight-granularity",
        rule: "tensor keeps one weight scale per layer; easyquant searches one per output channel (use another --calibrator)")
    }
    guard o.batch > 0 else { throw MixPrecError.invalidOption(option: "--batch", rule: "must be positive") }
    guard o.easyQuantInterval.lowerBound > 0, o.easyQuantInterval.lowerBound < o.easyQuantInterval.upperBound, o.easyQuantSteps > 0 else {
      throw MixPrecError.invalidOption(option: "--easyquant-interval",
        rule: "takes LOW:HIGH with 0 < LOW < HIGH (e.g. 0.5:1.2) and --easyquant-steps a positive count")
    }
  }
}
