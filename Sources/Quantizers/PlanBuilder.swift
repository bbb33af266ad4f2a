import Execution
import Foundation
import ONNXFormat
import GraphIR
import TensorCore

/// Builds plans and turns a plan into what the runtime executes.
public enum PlanBuilder {
  /// Every quantizable layer at `precision` (layers the kernels cannot run stay FP32), with input
  /// ranges from the calibrator for the integer precisions; `granularity: .tensor` gives each
  /// integer layer one weight scale.
  public static func uniform(
    session: Session, calibrator: Calibrator, precision: Precision, method: RangeMethod = .minmax,
    scheme: ActivationScheme = .asymmetric, weightGroup: Int? = nil, granularity: WeightGranularity? = nil,
    model: String, modelSHA256: String
  ) throws -> PrecisionPlan {
    let g = session.graph
    var layers: [LayerPlan] = []
    for l in g.layers {
      let node = g.nodes[l.nodeIndex]
      let runnable = QuantizedLayer.supports(node, in: g)
      var entry = LayerPlan(
        name: l.name, op: l.opType, precision: runnable ? precision : .fp32,
        weightGroup: precision == .int4 ? weightGroup : nil, activationScheme: scheme, rangeMethod: method)
      if granularity == .tensor && (precision == .int8 || precision == .int4) { entry.weightGranularity = .tensor }
      if runnable && !l.isTable && (precision == .int8 || precision == .int4) && method != .dynamic {
        guard let o = calibrator.observer(forLayer: l.name) else {
          throw PlanError("no calibration data reached layer '\(l.name)'")
        }
        let r = o.range(method, scheme: scheme)
        entry.input = ActivationParameters.covering(lo: r.lo, hi: r.hi, scheme: scheme)
      }
      layers.append(entry)
    }
    return PrecisionPlan(model: model, modelSHA256: modelSHA256, layers: layers)
  }

  /// The runtime form of `plan` for the session's model: integer layers get their weights
  /// quantized (nearest rounding), FP16 layers run on the half kernels, FP32 layers are left out.
  public static func layerQuantizations(
    _ plan: PrecisionPlan, session: Session, codes: [String: [Int8]] = [:]
  ) throws -> [String: LayerQuantization] {
    try plan.validate()
    let g = session.graph
    let byName = Dictionary(g.layers.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    var out: [String: LayerQuantization] = [:]
    for entry in plan.layers where entry.precision != .fp32 {
      guard let layer = byName[entry.name] else {
        throw PlanError("the plan names layer '\(entry.name)', which this model does not have (see `mixprec inspect`)")
      }
      let node = g.nodes[layer.nodeIndex]
      guard QuantizedLayer.supports(node, in: g) else {
        throw PlanError("layer '\(entry.name)' (\(node.opType)) cannot run at \(entry.precision.rawValue); keep it fp32")
      }
      if entry.precision == .fp16 {
        out[entry.name] = .half
        continue
      }
      let (rows, n, k) = try weightRows(node, in: g)
      let bits = entry.precision.weightBits
      let q = nearestCodes(entry, rows: rows, n: n, k: k)
      if layer.isTable {
        out[entry.name] = .table(bits: bits, values: q.values, scales: q.scales, group: entry.weightGroup)
        continue
      }
      let dynamic = entry.rangeMethod == .dynamic
      guard let input = entry.input ?? (dynamic ? ActivationParameters(scale: 1, zero: 0) : nil) else {
        throw PlanError("layer '\(entry.name)' is \(entry.precision.rawValue) but has no input range; recalibrate with `mixprec quantize`")
      }
      var values = q.values
      if entry.rounding == .adaround || entry.rounding == .qat {
        guard let c = codes[entry.name], c.count == values.count else {
          throw PlanError("layer '\(entry.name)' uses \(entry.rounding == .qat ? "QAT" : "AdaRound") codes, which were not found (the plan's codes file)")
        }
        values = c
      }
      out[entry.name] = .integer(
        bits: bits, values: values, scales: q.scales, group: entry.weightGroup, input: input, biasShift: entry.biasShift,
        dynamicInput: dynamic)
    }
    let products = Set(g.activationProducts.map(\.name))
    for p in plan.activationProducts ?? [] {
      guard products.contains(p.name) else {
        throw PlanError("the plan names activation product '\(p.name)', which this model does not have (a MatMul of two computed values)")
      }
      out[p.name] = .product(left: p.left, right: p.right)
    }
    return out
  }

  /// Every activation product of the session's model at INT8, with both inputs' ranges from the
  /// calibrator (built with `products: true`): the left asymmetric, the right symmetric.
  public static func products(session: Session, calibrator: Calibrator, method: RangeMethod = .minmax) throws -> [ProductPlan] {
    try session.graph.activationProducts.map { p in
      guard let o = calibrator.observers(forProduct: p.name) else {
        throw PlanError("no calibration data reached both inputs of '\(p.name)'")
      }
      // EasyQuant and PACT refine weighted layers and products keep calibrated ranges (the
      // export's DynamicQuantizeLinear feeds weighted layers): a product's ranges come from the
      // histogram methods.
      let m: RangeMethod = [.easyquant, .pact, .dynamic].contains(method) ? .minmax : method
      let l = o.left.range(m, scheme: .asymmetric), r = o.right.range(m, scheme: .symmetric)
      return ProductPlan(name: p.name, rangeMethod: m,
        left: ActivationParameters.covering(lo: l.lo, hi: l.hi, scheme: .asymmetric),
        right: ActivationParameters.covering(lo: r.lo, hi: r.hi, scheme: .symmetric))
    }
  }

  /// Nearest-rounded codes and scales (per row or group, as the kernels read them) of an integer
  /// layer's rows under its plan entry: one scale per tensor, channel or group, times EasyQuant's
  /// per-channel factors where the plan has them.
  public static func nearestCodes(_ entry: LayerPlan, rows: [Float], n: Int, k: Int) -> (values: [Int8], scales: [Float]) {
    let bits = entry.precision.weightBits
    var q = entry.granularity == .tensor
      ? WeightQuantizer.quantizePerTensor(rows, n: n, k: k, bits: bits)
      : WeightQuantizer.quantize(rows, n: n, k: k, bits: bits, group: entry.weightGroup)
    if let factors = entry.weightScaleFactors, entry.weightGroup == nil, factors.count == n {
      q.scales = zip(q.scales, factors).map { $0 * $1 }
      q.values = WeightQuantizer.quantize(rows, n: n, k: k, bits: bits, scales: q.scales)
    }
    return q
  }

  /// A layer's weight as rows = output channels: Conv [out][in/g·kH·kW], MatMul/Gemm [N][K],
  /// an embedding table as stored ([rows][row length]).
  public static func weightRows(_ node: Node, in g: Graph) throws -> (rows: [Float], n: Int, k: Int) {
    guard let name = node.input(g.weightInput(of: node)), let w = g.initializers[name], case .float(let v) = w.storage else {
      throw PlanError("layer '\(node.name)' has no constant float32 weight")
    }
    let layout = WeightLayout(node, weight: w.shape)
    return (layout.rowsMajor(v), layout.rows, layout.depth)
  }

  /// Bytes of the layer weights under the plan: quantized layers at their bits (plus one float32
  /// scale per row or group), the rest at 4 bytes per weight. Biases stay FP32 in every plan and
  /// are left out, as in `Layer.fp32WeightBytes`, so the two compare directly.
  public static func weightBytes(_ plan: PrecisionPlan, graph g: Graph) -> Int {
    g.layers.reduce(0) { total, l in
      let entry = plan.layer(l.name)
      return total + layerWeightBytes(l, precision: entry?.precision ?? .fp32, group: entry?.weightGroup, graph: g)
    }
  }

  /// Bytes of one layer's weight tensor at `precision`: the codes plus one float32 scale per
  /// row (or per group of `group` inputs) for the integer precisions. Biases are not included.
  public static func layerWeightBytes(_ l: Layer, precision p: Precision, group: Int?, graph g: Graph) -> Int {
    let weights = l.weightCount
    switch p {
    case .fp32: return 4 * weights
    case .fp16: return 2 * weights
    case .int8, .int4:
      let layout = WeightLayout(g.nodes[l.nodeIndex], weight: l.weightShape)
      let groups = group.map { (layout.depth + $0 - 1) / $0 } ?? 1
      return (weights * p.weightBits + 7) / 8 + 4 * layout.rows * groups
    }
  }
}

extension PlanBuilder {
  /// The plan's layers as the QDQ export writes them (same codes and scales as the runtime).
  public static func qdqLayers(_ layers: [String: LayerQuantization]) -> [String: QDQLayer] {
    layers.mapValues { q in
      switch q {
      case .half: QDQLayer(weights: .half, input: nil)
      case .table(let bits, let values, let scales, let group):
        QDQLayer(weights: .integer(bits: bits, values: values, scales: scales, group: group), input: nil)
      case .integer(let bits, let values, let scales, let group, let input, let shift, let dynamic):
        QDQLayer(weights: .integer(bits: bits, values: values, scales: scales, group: group), input: dynamic ? nil : input,
          biasShift: shift, dynamicInput: dynamic)
      case .product(let left, let right): QDQLayer(weights: .activation(right), input: left)
      }
    }
  }

  /// Writes the QDQ ONNX model of `plan` (ranks of values from a specialization at `shapes`).
  public static func exportQDQ(
    _ plan: PrecisionPlan, session: Session, shapes: [String: [Int]], codes: [String: [Int8]] = [:], to url: URL
  ) throws {
    try exportQDQ(layerQuantizations(plan, session: session, codes: codes), session: session, shapes: shapes, to: url)
  }

  /// Writes the QDQ ONNX model of runtime layers already built from a plan.
  public static func exportQDQ(
    _ layers: [String: LayerQuantization], session: Session, shapes: [String: [Int]], to url: URL
  ) throws {
    let (_, activations) = try GraphPreparation.specialize(session.graph, inputShapes: shapes)
    try QDQExport.write(session.graph, layers: qdqLayers(layers),
      ranks: activations.mapValues(\.count), to: url)
  }
}

/// AdaRound results by (layer, precision, weight group): a layer's codes depend only on its
/// weights, format and input Gram matrix, so every plan a tuning run compares (the chosen one,
/// the uniform baselines) reuses them instead of optimizing the same layer again.
public final class AdaRoundCache: @unchecked Sendable {
  struct Key: Hashable { var layer: String, precision: Precision, group: Int? }
  private let lock = NSLock()
  private var entries: [Key: (codes: [Int8], ada: Double, nearest: Double)] = [:]
  public init() {}

  func value(_ key: Key) -> (codes: [Int8], ada: Double, nearest: Double)? {
    lock.lock()
    defer { lock.unlock() }
    return entries[key]
  }

  func store(_ key: Key, _ value: (codes: [Int8], ada: Double, nearest: Double)) {
    lock.lock()
    entries[key] = value
    lock.unlock()
  }
}

extension PlanBuilder {
  /// AdaRound codes for every integer layer of `plan` whose input Gram matrix the calibrator
  /// collected; marks those layers `.adaround` in the plan. Returns the codes and, per layer, the
  /// reconstruction error relative to ‖WX‖² (AdaRound, nearest). With `cache`, a layer already
  /// rounded at the same precision and group is reused.
  public static func adaRound(
    _ plan: inout PrecisionPlan, session: Session, calibrator: Calibrator, options: AdaRound.Options = AdaRound.Options(),
    cache: AdaRoundCache? = nil, progress: (String) -> Void = { _ in }
  ) throws -> (codes: [String: [Int8]], errors: [String: (ada: Double, nearest: Double)]) {
    let g = session.graph
    var codes: [String: [Int8]] = [:], errors: [String: (Double, Double)] = [:]
    for i in plan.layers.indices where plan.layers[i].precision == .int8 || plan.layers[i].precision == .int4 {
      let entry = plan.layers[i]
      guard let collector = calibrator.grams[entry.name], let layer = g.layers.first(where: { $0.name == entry.name }) else { continue }
      let key = AdaRoundCache.Key(layer: entry.name, precision: entry.precision, group: entry.weightGroup)
      if let hit = cache?.value(key) {
        codes[entry.name] = hit.codes
        errors[entry.name] = (hit.ada, hit.nearest)
        plan.layers[i].rounding = .adaround
        continue
      }
      let (rows, n, k) = try weightRows(g.nodes[layer.nodeIndex], in: g)
      let bits = entry.precision.weightBits
      let scales = nearestCodes(entry, rows: rows, n: n, k: k).scales
      let groups = collector.groups, rowsPerGroup = n / groups
      let scaleGroups = scales.count / n
      var layerCodes = [Int8](repeating: 0, count: n * k)
      var ada = 0.0, nearest = 0.0
      for gi in 0..<groups {
        let part = Array(rows[(gi * rowsPerGroup * k)..<((gi + 1) * rowsPerGroup * k)])
        let partScales = Array(scales[(gi * rowsPerGroup * scaleGroups)..<((gi + 1) * rowsPerGroup * scaleGroups)])
        let r = AdaRound.codes(rows: part, n: rowsPerGroup, k: k, bits: bits, scales: partScales, group: entry.weightGroup,
          gram: collector.grams[gi], options: options)
        layerCodes.replaceSubrange((gi * rowsPerGroup * k)..<((gi + 1) * rowsPerGroup * k), with: r.codes)
        ada += r.error / Double(groups)
        nearest += r.nearestError / Double(groups)
      }
      codes[entry.name] = layerCodes
      errors[entry.name] = (ada, nearest)
      cache?.store(key, (layerCodes, ada, nearest))
      plan.layers[i].rounding = .adaround
      progress(String(format: "adaround %@: reconstruction error %.3g (nearest %.3g)", entry.name, ada, nearest))
    }
    return (codes, errors)
  }
}

extension PlanBuilder {
  /// Empirical bias correction: for every integer layer, the mean output shift its quantized
  /// weights cause on the calibration inputs,
  ///
  ///     shift[o] = Σ_k (W − Ŵ)[o][k] · E[x_k]
  ///
  /// (E over the sampled im2col columns, padding included), recorded as `biasShift` so the
  /// runtime and the export add it to the bias. Uses the calibrator's column sums (collected with
  /// `grams: true`) and the codes the runtime will use (AdaRound's where given).
  public static func correctBiases(_ plan: inout PrecisionPlan, session: Session, calibrator: Calibrator, codes: [String: [Int8]] = [:]) throws {
    let g = session.graph
    let runtime = try layerQuantizations(plan, session: session, codes: codes)
    for i in plan.layers.indices {
      let entry = plan.layers[i]
      guard case .integer(_, let values, let scales, let group, _, _, _)? = runtime[entry.name],
        let collector = calibrator.grams[entry.name], collector.columns > 0,
        let layer = g.layers.first(where: { $0.name == entry.name })
      else { continue }
      let (rows, n, k) = try weightRows(g.nodes[layer.nodeIndex], in: g)
      let dequantized = WeightQuantizer.dequantize(values, scales: scales, n: n, k: k, group: group)
      let rowsPerGroup = n / collector.groups
      var shift = [Float](repeating: 0, count: n)
      for o in 0..<n {
        let mean = collector.means(group: o / rowsPerGroup)
        var s = 0.0
        for c in 0..<k { s += Double(rows[o * k + c] - dequantized[o * k + c]) * Double(mean[c]) }
        shift[o] = Float(s)
      }
      plan.layers[i].biasShift = shift
    }
  }
}

extension PlanBuilder {
  /// Refines the integer layers' ranges on their own outputs: EasyQuant (weight and activation
  /// scales by cosine search) or PACT-style learned input clipping. Needs the calibrator's kept
  /// input columns (`grams: true`); applies to ungrouped layers (grouped and depthwise
  /// convolutions keep their calibrated ranges). Returns the number of layers refined.
  public static func refineRanges(
    _ plan: inout PrecisionPlan, session: Session, calibrator: Calibrator, method: RangeMethod,
    interval: ClosedRange<Float> = 0.5...1.2, steps: Int = 50
  ) throws -> Int {
    let g = session.graph
    var refined = 0
    for i in plan.layers.indices where plan.layers[i].precision == .int8 || plan.layers[i].precision == .int4 {
      let entry = plan.layers[i]
      guard let c = calibrator.grams[entry.name], c.groups == 1, let input = entry.input,
        let layer = g.layers.first(where: { $0.name == entry.name })
      else { continue }
      let count = c.kept.count / c.k
      guard count > 0 else { continue }
      let (rows, n, k) = try weightRows(g.nodes[layer.nodeIndex], in: g)
      switch method {
      case .easyquant:
        guard entry.weightGroup == nil else { continue }
        let r = OutputMatching.easyQuant(rows: rows, n: n, k: k, bits: entry.precision.weightBits, columns: c.kept,
          count: count, input: input, interval: interval, steps: steps)
        plan.layers[i].weightScaleFactors = r.weightFactors
        plan.layers[i].input = r.input
      case .pact:
        plan.layers[i].input = OutputMatching.learnedClip(rows: rows, n: n, k: k, columns: c.kept, count: count, start: input).input
      default:
        continue
      }
      plan.layers[i].rangeMethod = method
      refined += 1
    }
    return refined
  }
}
