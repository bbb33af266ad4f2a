import Foundation

/// The numeric format of one layer's weights and of the activations it reads.
public enum Precision: String, Codable, CaseIterable, Sendable, Comparable {
  case fp32, fp16, int8, int4

  /// Bits per stored weight.
  public var weightBits: Int {
    switch self {
    case .fp32: 32
    case .fp16: 16
    case .int8: 8
    case .int4: 4
    }
  }

  public static func < (a: Precision, b: Precision) -> Bool { a.weightBits > b.weightBits }
}

/// How an activation range is chosen from calibration data.
public enum RangeMethod: String, Codable, CaseIterable, Sendable {
  /// The observed minimum and maximum (never saturates).
  case minmax
  /// The 99.99th percentile of |x| (or of each tail).
  case percentile
  /// The clipping threshold minimizing the expected squared quantization error.
  case mse
  /// The threshold minimizing the KL divergence between clipped and quantized histograms (TensorRT entropy).
  case kl
  /// EasyQuant: weight and activation scales searched to maximize the layer output's cosine similarity.
  case easyquant
  /// PACT-style learned clipping of the layer input on its reconstruction loss (after training).
  case pact
  /// No calibrated range: the minimum and maximum of each batch the layer reads, taken at run
  /// time (ONNX DynamicQuantizeLinear, ONNX Runtime's `quantize_dynamic`); asymmetric uint8.
  case dynamic
}

/// Zero point of the activation codes.
public enum ActivationScheme: String, Codable, Sendable {
  /// uint8 with a zero point: the range need not be centred.
  case asymmetric
  /// int8 with zero point 0 (stored as uint8 with zero 128).
  case symmetric
}

/// Weight rounding.
public enum Rounding: String, Codable, Sendable {
  case nearest
  case adaround
  /// Codes learned by quantization-aware training (`tune --qat`).
  case qat
}

/// Affine parameters of an activation tensor: real = scale · (q − zero), q ∈ [0, 255].
public struct ActivationParameters: Codable, Equatable, Sendable {
  public var scale: Float
  public var zero: Int32

  public init(scale: Float, zero: Int32) {
    self.scale = scale
    self.zero = zero
  }

  /// The smallest scale a grid gets: the least normal float32. A range narrower than
  /// 255 of these (all values within ±3e-36) quantizes to zero, and no kernel divides by a denormal.
  public static let smallestScale = Float.leastNormalMagnitude

  /// The parameters whose grid covers [lo, hi] (widened to include 0, so zero padding is exact).
  ///
  ///     asymmetric: scale = (hi − lo) / 255,  zero = round(−lo / scale)
  ///     symmetric:  scale = max(|lo|, |hi|) / 127,  zero = 128 (int8 codes shifted to uint8)
  ///
  /// In Double, so a span of finite extremes (±3.4e38) does not overflow; the scale is at least
  /// `smallestScale`.
  public static func covering(lo: Float, hi: Float, scheme: ActivationScheme) -> ActivationParameters {
    let lo = Double(min(lo, 0)), hi = Double(max(hi, 0))
    switch scheme {
    case .asymmetric:
      let span = hi - lo
      guard span > 0, span.isFinite else { return ActivationParameters(scale: 1, zero: 0) }
      let scale = max(Float(span / 255), smallestScale)
      let zero = (-lo / Double(scale)).rounded(.toNearestOrEven)
      return ActivationParameters(scale: scale, zero: Int32(min(max(zero, 0), 255)))
    case .symmetric:
      let m = max(-lo, hi)
      guard m > 0, m.isFinite else { return ActivationParameters(scale: 1, zero: 128) }
      return ActivationParameters(scale: max(Float(m / 127), smallestScale), zero: 128)
    }
  }

  /// DynamicQuantizeLinear's parameters for values spanning [lo, hi], in float32 as ONNX defines
  /// them: scale = (max(hi, 0) − min(lo, 0)) / 255, zero = round(−min(lo, 0) / scale) (ties to
  /// even) within 0…255. A zero span gets scale 1 (every value is 0).
  public static func dynamic(lo: Float, hi: Float) -> ActivationParameters {
    let lo = min(lo, 0), hi = max(hi, 0)
    let scale = (hi - lo) / 255
    guard scale.isFinite, scale >= smallestScale else { return ActivationParameters(scale: 1, zero: 0) }
    let zero = (0 - lo / scale).rounded(.toNearestOrEven)
    return ActivationParameters(scale: scale, zero: Int32(min(max(zero, 0), 255)))
  }

  /// Whether a plan may hold these: a positive, finite, normal scale and a zero point in 0…255.
  public var isValid: Bool {
    scale.isFinite && scale >= Self.smallestScale && (0...255).contains(zero)
  }
}

/// How many scales a layer's weights share.
public enum WeightGranularity: String, Codable, Sendable, CaseIterable {
  /// One scale for the whole weight tensor (hardware with one scale per tensor; what cross-layer
  /// equalization was designed for).
  case tensor
  /// One scale per output channel (the default).
  case channel
  /// One scale per group of `weightGroup` inputs within an output channel (INT4).
  case group
}

/// One layer's entry in a plan.
public struct LayerPlan: Codable, Equatable, Sendable {
  /// The layer's node name (as `mixprec inspect` lists it).
  public var name: String
  public var op: String
  public var precision: Precision
  /// k per weight scale for INT4 (32/64/128); nil: one scale per output channel.
  public var weightGroup: Int?
  public var activationScheme: ActivationScheme
  public var rangeMethod: RangeMethod
  public var rounding: Rounding
  /// Quantization of the layer's input (integer precisions), from calibration; nil under the
  /// `dynamic` range method (taken from each batch at run time).
  public var input: ActivationParameters?
  /// Added to the layer's bias (one per output channel): empirical bias correction of the mean
  /// output shift its weight quantization causes.
  public var biasShift: [Float]?
  /// Multipliers of the per-row weight scales max|w|/q_max (EasyQuant), one per output channel.
  public var weightScaleFactors: [Float]?
  /// `tensor` for one weight scale per layer; nil: per channel, or per group with `weightGroup`.
  public var weightGranularity: WeightGranularity?

  /// The granularity the layer's weight scales have.
  public var granularity: WeightGranularity { weightGranularity ?? (weightGroup != nil ? .group : .channel) }

  public init(
    name: String, op: String, precision: Precision, weightGroup: Int? = nil,
    activationScheme: ActivationScheme = .asymmetric, rangeMethod: RangeMethod = .minmax, rounding: Rounding = .nearest,
    input: ActivationParameters? = nil
  ) {
    self.name = name
    self.op = op
    self.precision = precision
    self.weightGroup = weightGroup
    self.activationScheme = activationScheme
    self.rangeMethod = rangeMethod
    self.rounding = rounding
    self.input = input
  }
}

/// A MatMul between two activations run on the INT8 kernels: both inputs quantized per tensor
/// with calibrated ranges, the products accumulated in int32 (`--quantize-activation-matmuls`).
public struct ProductPlan: Codable, Equatable, Sendable {
  /// The MatMul's node name.
  public var name: String
  /// int8 (the only integer format both sides of a product take).
  public var precision: Precision
  public var rangeMethod: RangeMethod
  /// The left input's uint8 codes (asymmetric).
  public var left: ActivationParameters
  /// The right input's codes: symmetric int8 (stored as uint8 with zero point 128), so they
  /// enter the kernels as signed weights.
  public var right: ActivationParameters

  public init(name: String, rangeMethod: RangeMethod, left: ActivationParameters, right: ActivationParameters) {
    self.name = name
    precision = .int8
    self.rangeMethod = rangeMethod
    self.left = left
    self.right = right
  }
}

/// One bias absorption: cᵢ taken out of `first`'s bias and added, through `second`'s weights, to its bias.
public struct AbsorbedBias: Codable, Equatable, Sendable {
  public var first: String, second: String
  public var shift: [Float]

  public init(first: String, second: String, shift: [Float]) {
    self.first = first
    self.second = second
    self.shift = shift
  }
}

/// Measured or predicted properties of a plan.
public struct PlanFigures: Codable, Equatable, Sendable {
  /// Task metric name and value (top1, exact-match, …) on the evaluation set.
  public var metric: String?
  public var value: Double?
  /// The FP32 model's value of the same metric.
  public var reference: Double?
  /// Weight bytes of the quantized layers plus FP32 bytes of the rest.
  public var weightBytes: Int?
  public var latencyMs: Double?
  /// KL divergence of the output from FP32's (predicted: the layers' one-at-a-time damages summed).
  public var damage: Double?

  public init(metric: String? = nil, value: Double? = nil, reference: Double? = nil, weightBytes: Int? = nil,
              latencyMs: Double? = nil, damage: Double? = nil) {
    self.metric = metric
    self.value = value
    self.reference = reference
    self.weightBytes = weightBytes
    self.latencyMs = latencyMs
    self.damage = damage
  }
}

/// The per-layer precision assignment: what `quantize`/`tune` write and `run --plan` reads.
public struct PrecisionPlan: Codable, Equatable, Sendable {
  public static let currentVersion = 1

  public var version: Int
  /// The model file's name and SHA-256, so a plan is not applied to another model by accident.
  public var model: String
  public var modelSHA256: String
  public var layers: [LayerPlan]
  public var budget: String?
  /// Conv pairs (names) cross-layer equalization rescaled before quantizing (re-applied on load).
  public var equalizedPairs: [[String]]?
  /// Offsets bias absorption moved from one conv's bias to the next (re-applied on load).
  public var absorbedBiases: [AbsorbedBias]?
  /// The weight codes chosen by AdaRound, in a `.npz` beside the plan (one int8 array per layer).
  public var codesFile: String?
  /// MatMuls between two activations quantized to INT8 (none unless asked for).
  public var activationProducts: [ProductPlan]?
  public var predicted: PlanFigures?
  public var measured: PlanFigures?

  public init(model: String, modelSHA256: String, layers: [LayerPlan], budget: String? = nil) {
    version = Self.currentVersion
    self.model = model
    self.modelSHA256 = modelSHA256
    self.layers = layers
    self.budget = budget
  }

  /// The entry for layer `name`.
  public func layer(_ name: String) -> LayerPlan? { layers.first { $0.name == name } }

  /// Pretty-printed JSON with sorted keys (stable diffs), written atomically.
  public func write(to url: URL) throws { try JSONFile.write(self, to: url) }

  /// Reads a plan and checks its values (`validate`); the error names the file and what is wrong.
  public static func read(from url: URL) throws -> PrecisionPlan {
    try FileChecks.requireFile(url, what: "plan")
    return try decode(Data(contentsOf: url), name: url.path)
  }

  /// Decodes and checks a plan's bytes; `name` (the file) appears in messages.
  public static func decode(_ data: Data, name: String) throws -> PrecisionPlan {
    let plan = try JSONFile.decode(PrecisionPlan.self, from: data, name: name, what: "plan")
    guard plan.version <= currentVersion else {
      throw PlanError("plan '\(name)' has version \(plan.version); this mixprec reads up to \(currentVersion)")
    }
    do { try plan.validate() } catch let e as PlanError {
      throw PlanError("plan '\(name)': \(e.description); write plans with `mixprec quantize` or `mixprec tune`")
    }
    return plan
  }

  /// The most inputs one INT4 weight scale may cover.
  public static let largestWeightGroup = 1 << 20

  /// Checks every value the runtime and the export rely on: layer names unique; input scales
  /// positive, finite and normal with zero points in 0…255 for integer layers; INT4 groups
  /// positive multiples of 16; bias shifts, scale factors and absorbed biases finite.
  public func validate() throws {
    var names = Set<String>()
    for l in layers {
      guard names.insert(l.name).inserted else { throw PlanError("layer '\(l.name)' appears twice") }
      if let g = l.weightGroup {
        guard l.precision == .int4, g > 0, g % 16 == 0, g <= Self.largestWeightGroup else {
          throw PlanError("layer '\(l.name)' has weight group \(g); groups apply to int4 and are positive multiples of 16 (32, 64, 128)")
        }
      }
      if (l.precision == .int8 || l.precision == .int4) && (l.op != "Gather" || l.input != nil) && !(l.rangeMethod == .dynamic && l.input == nil) {
        guard let input = l.input else { throw PlanError("integer layer '\(l.name)' has no input quantization") }
        guard input.isValid else {
          throw PlanError("layer '\(l.name)' has input scale \(input.scale) and zero point \(input.zero); scales must be positive finite normal numbers and zero points in 0…255")
        }
      }
      if let w = l.weightGranularity, (w == .group) != (l.weightGroup != nil) {
        throw PlanError("layer '\(l.name)' has weight granularity \(w.rawValue) and weight group \(l.weightGroup.map(String.init) ?? "none"); a group size goes with granularity group only")
      }
      if l.weightGranularity == .tensor, l.weightScaleFactors.map({ Set($0).count > 1 }) == true {
        throw PlanError("layer '\(l.name)' has one weight scale (granularity tensor) but per-channel scale factors")
      }
      if let shift = l.biasShift, !shift.allSatisfy(\.isFinite) { throw PlanError("layer '\(l.name)' has a non-finite bias shift") }
      if let f = l.weightScaleFactors, !f.allSatisfy({ $0.isFinite && $0 > 0 }) {
        throw PlanError("layer '\(l.name)' has a weight scale factor that is not a positive finite number")
      }
    }
    for p in activationProducts ?? [] {
      guard names.insert(p.name).inserted else { throw PlanError("'\(p.name)' appears twice") }
      guard p.precision == .int8 else {
        throw PlanError("activation product '\(p.name)' is \(p.precision.rawValue); products between activations run at int8 only")
      }
      guard p.left.isValid, p.right.isValid, p.right.zero == 128 else {
        throw PlanError("activation product '\(p.name)' has input scales \(p.left.scale), \(p.right.scale) and zero points \(p.left.zero), \(p.right.zero); scales must be positive finite normal numbers, the left zero point in 0…255 and the right one 128 (symmetric)")
      }
    }
    for a in absorbedBiases ?? [] where !a.shift.allSatisfy(\.isFinite) {
      throw PlanError("the bias absorbed from '\(a.first)' into '\(a.second)' is not finite")
    }
  }
}

public struct PlanError: Error, CustomStringConvertible {
  public let description: String
  public init(_ description: String) { self.description = description }
}
