import Foundation
import TensorCore

/// What `mixprec analyze` writes (`analysis.json`) and the report reads. Versioned, Codable.
public struct AnalysisResult: Codable, Equatable, Sendable {
  /// 3: `damage` (per output kind, summed over `outputs`) replaced version 2's `kl`.
  public static let currentVersion = 3

  /// One layer at one precision: `OutputComparison`'s figures plus the task metric.
  public struct Entry: Codable, Equatable, Sendable {
    /// What the solver sums (see `OutputComparison.damage`); version 2 files call it `kl`.
    public var damage: Double
    public var sqnr: Double, cosine: Double, agreement: Double
    /// The task metric (top1, ctc exact-match) with only this layer quantized, when labels exist.
    public var task: Double?
    /// The number of calibration samples the figures were measured on when the screened sweep
    /// measured this pair on a sub-sample only (spread evenly over the set; its choice was never
    /// in doubt); nil: all.
    public var samples: Int?

    public init(damage: Double, sqnr: Double, cosine: Double, agreement: Double, task: Double? = nil) {
      self.damage = damage
      self.sqnr = sqnr
      self.cosine = cosine
      self.agreement = agreement
      self.task = task
      samples = nil
    }

    /// The same figures, recorded as measured on a sub-sample of `samples` calibration samples.
    public func subsampled(_ samples: Int) -> Entry {
      var e = self
      e.samples = samples
      return e
    }

    enum CodingKeys: String, CodingKey { case damage, kl, sqnr, cosine, agreement, task, samples }

    public init(from decoder: any Decoder) throws {
      let c = try decoder.container(keyedBy: CodingKeys.self)
      damage = try c.decodeIfPresent(Double.self, forKey: .damage) ?? c.decode(Double.self, forKey: .kl)
      sqnr = try c.decode(Double.self, forKey: .sqnr)
      cosine = try c.decode(Double.self, forKey: .cosine)
      agreement = try c.decode(Double.self, forKey: .agreement)
      task = try c.decodeIfPresent(Double.self, forKey: .task)
      samples = try c.decodeIfPresent(Int.self, forKey: .samples)
    }

    public func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(damage, forKey: .damage)
      try c.encode(sqnr, forKey: .sqnr)
      try c.encode(cosine, forKey: .cosine)
      try c.encode(agreement, forKey: .agreement)
      try c.encodeIfPresent(task, forKey: .task)
      try c.encodeIfPresent(samples, forKey: .samples)
    }
  }

  public struct Layer: Codable, Equatable, Sendable {
    /// Position among the model's layers (shards merge back into this order).
    public var index: Int
    public var name: String
    public var op: String
    public var params: Int
    /// Candidate precision (fp16, int8, int4) → its damage when this layer alone is quantized.
    public var sensitivity: [String: Entry]
    /// Curvature of the distillation loss in this layer's weights (`analyze --hessian`).
    public var hessian: Hessian?

    public init(index: Int, name: String, op: String, params: Int, sensitivity: [String: Entry] = [:]) {
      self.index = index
      self.name = name
      self.op = op
      self.params = params
      self.sensitivity = sensitivity
    }
  }

  /// HAWQ-V2 figures of one layer.
  public struct Hessian: Codable, Equatable, Sendable {
    /// Hutchinson estimate of Tr(H) over the layer's weights, its 95% interval half-width and
    /// the number of Rademacher samples it averages.
    public var trace: Double
    public var ci95: Double
    public var samples: Int
    /// Largest eigenvalue of the layer's Hessian block (Lanczos).
    public var topEigenvalue: Double?
    /// Ω = Tr(H)/n · ‖Q(W) − W‖² per candidate precision.
    public var score: [String: Double]
    /// The layer-local proxy: Tr of the layer-input Gram matrix (the Hessian of the layer's
    /// output reconstruction error) per weight, and the same Ω form with it.
    public var gramTrace: Double?
    public var gramScore: [String: Double]?

    enum CodingKeys: String, CodingKey {
      case trace, ci95, samples, score
      case topEigenvalue = "top_eigenvalue"
      case gramTrace = "gram_trace"
      case gramScore = "gram_score"
    }

    public init(trace: Double, ci95: Double, samples: Int, topEigenvalue: Double?, score: [String: Double],
                gramTrace: Double? = nil, gramScore: [String: Double]? = nil) {
      self.trace = trace
      self.ci95 = ci95
      self.samples = samples
      self.topEigenvalue = topEigenvalue
      self.score = score
      self.gramTrace = gramTrace
      self.gramScore = gramScore
    }
  }

  /// How well a proxy ranks the layers like the measured damage does.
  public struct Correlation: Codable, Equatable, Sendable {
    /// hessian_score, hessian_trace, top_eigenvalue or gram_score.
    public var proxy: String
    public var precision: String
    /// The measured damage it is ranked against ("damage").
    public var measure: String
    public var spearman: Double
    public var layers: Int

    public init(proxy: String, precision: String, measure: String, spearman: Double, layers: Int) {
      self.proxy = proxy
      self.precision = precision
      self.measure = measure
      self.spearman = spearman
      self.layers = layers
    }
  }

  public var version: Int
  public var model: String
  public var modelSHA256: String
  public var candidates: [String]
  /// The outputs the damages were measured on, with their kinds (nil in version 2 files: the
  /// first floating-point output, as logits or probabilities).
  public var outputs: [ComparedOutput]?
  /// Samples of the calibration set the sweep ran on, and the task metric's name and FP32 value.
  public var samples: Int
  /// "tensor" when the integer candidates had one weight scale per layer (nil: per channel).
  public var weightGranularity: String?
  /// "dynamic" when the integer candidates took each batch's input range at run time (nil: calibrated).
  public var activationRanges: String?
  public var taskMetric: String?
  public var taskReference: Double?
  /// "k/n" when this is one shard of a split sweep.
  public var shard: String?
  public var layers: [Layer]
  /// Samples the Hessian was estimated on, and each proxy's rank correlation with the damage.
  public var hessianSamples: Int?
  /// Why the Hessian figures are missing when they were asked for as optional (tune's default):
  /// e.g. an op without a gradient yet.
  public var hessianSkipped: String?
  public var correlations: [Correlation]?
  /// How the screened sweep chose what to measure (nil: every pair measured).
  public var screening: Screening?
  /// Written by `tune`: the decision and its measurements.
  public var tuning: TuningSummary?
  /// What the model is (ops, layers, parameters, FP32 size; machine and kernels).
  public var summary: ModelSummary?
  /// Layer name → range method → KL at each integer candidate ("int8" → …), for the layers most
  /// sensitive at the lowest candidate.
  public var rangeComparison: [String: [String: [String: Double]]]?

  /// The screened sweep's record: Ω screened every (layer, candidate) pair, the pairs whose choice
  /// under the budget was uncertain were measured, round after round, until none was left; the
  /// rest were measured on a sub-sample, and those whose choice that left uncertain in full.
  public struct Screening: Codable, Equatable, Sendable {
    /// log damage ≈ intercept + slope · log Ω, fitted on the measured pairs of one candidate;
    /// `spread`: the residuals' standard deviation (natural log).
    public struct Fit: Codable, Equatable, Sendable {
      public var intercept: Double, slope: Double, spread: Double, pairs: Int
      public init(intercept: Double, slope: Double, spread: Double, pairs: Int) {
        self.intercept = intercept
        self.slope = slope
        self.spread = spread
        self.pairs = pairs
      }
    }
    /// Pairs measured in each round (the first: the seed spread over Ω's ranks).
    public var measuredPerRound: [Int]
    public var totalPairs: Int
    /// The resource the Lagrangian trades (bytes or bits) and its budget.
    public var resource: String
    public var budget: Double
    public var fits: [String: Fit]
    /// Pairs measured on a sub-sample of `probeSamples` only, and per candidate the spread (natural
    /// log) of the sub-sample's damage around the full one on the pairs measured both ways.
    public var probedPairs: Int
    public var probeSamples: Int
    public var probeSpread: [String: Double]
    public init(measuredPerRound: [Int], totalPairs: Int, resource: String, budget: Double, fits: [String: Fit],
                probedPairs: Int = 0, probeSamples: Int = 0, probeSpread: [String: Double] = [:]) {
      self.probedPairs = probedPairs
      self.probeSamples = probeSamples
      self.probeSpread = probeSpread
      self.measuredPerRound = measuredPerRound
      self.totalPairs = totalPairs
      self.resource = resource
      self.budget = budget
      self.fits = fits
    }
    public var measuredPairs: Int { measuredPerRound.reduce(0, +) }

    enum CodingKeys: String, CodingKey { case measuredPerRound, totalPairs, resource, budget, fits, probedPairs, probeSamples, probeSpread }

    /// Files written before the sub-sample probe have no probe fields (their unmeasured pairs were predicted).
    public init(from decoder: any Decoder) throws {
      let c = try decoder.container(keyedBy: CodingKeys.self)
      measuredPerRound = try c.decode([Int].self, forKey: .measuredPerRound)
      totalPairs = try c.decode(Int.self, forKey: .totalPairs)
      resource = try c.decode(String.self, forKey: .resource)
      budget = try c.decode(Double.self, forKey: .budget)
      fits = try c.decode([String: Fit].self, forKey: .fits)
      probedPairs = try c.decodeIfPresent(Int.self, forKey: .probedPairs) ?? 0
      probeSamples = try c.decodeIfPresent(Int.self, forKey: .probeSamples) ?? 0
      probeSpread = try c.decodeIfPresent([String: Double].self, forKey: .probeSpread) ?? [:]
    }
  }

  public struct ModelSummary: Codable, Equatable, Sendable {
    public var opHistogram: [String: Int]
    public var layers: Int
    public var parameters: Int
    public var fp32WeightBytes: Int
    public var machine: String
    public var isa: String
    /// Weight shape per layer name.
    public var weightShapes: [String: [Int]]

    public init(opHistogram: [String: Int], layers: Int, parameters: Int, fp32WeightBytes: Int, machine: String, isa: String,
                weightShapes: [String: [Int]]) {
      self.opHistogram = opHistogram
      self.layers = layers
      self.parameters = parameters
      self.fp32WeightBytes = fp32WeightBytes
      self.machine = machine
      self.isa = isa
      self.weightShapes = weightShapes
    }
  }

  public init(model: String, modelSHA256: String, candidates: [String], samples: Int, layers: [Layer]) {
    version = Self.currentVersion
    self.model = model
    self.modelSHA256 = modelSHA256
    self.candidates = candidates
    self.samples = samples
    self.layers = layers
  }

  public func write(to url: URL) throws { try JSONFile.write(self, to: url) }

  /// Reads an analysis and checks its values (`validate`); the error names the file.
  public static func read(from url: URL) throws -> AnalysisResult {
    do { try FileChecks.requireFile(url, what: "analysis") } catch let e as TensorIOError { throw PlanError(e.description) }
    return try decode(Data(contentsOf: url), name: url.path)
  }

  /// Decodes and checks an analysis's bytes; `name` (the file) appears in messages.
  public static func decode(_ data: Data, name: String) throws -> AnalysisResult {
    let a = try JSONFile.decode(AnalysisResult.self, from: data, name: name, what: "analysis")
    do { try a.validate() } catch let e as PlanError {
      throw PlanError("analysis '\(name)': \(e.description); write analyses with `mixprec analyze` or `mixprec merge`")
    }
    return a
  }

  /// Checks what the solver and the report rely on: a version this code reads, distinct known
  /// candidates, a positive sample count, layers with distinct names and indices, and damages
  /// that are finite and not negative for listed candidates only.
  public func validate() throws {
    guard version <= Self.currentVersion else { throw PlanError("version \(version); this mixprec reads up to \(Self.currentVersion)") }
    let known = Set(Precision.allCases.map(\.rawValue))
    guard !candidates.isEmpty, Set(candidates).count == candidates.count, candidates.allSatisfy(known.contains) else {
      throw PlanError("candidates \(candidates) must be distinct names of fp32, fp16, int8 and int4")
    }
    guard samples > 0 else { throw PlanError("samples must be positive, not \(samples)") }
    var names = Set<String>(), indices = Set<Int>()
    for l in layers {
      guard names.insert(l.name).inserted, indices.insert(l.index).inserted, l.index >= 0 else {
        throw PlanError("layer '\(l.name)' (index \(l.index)) appears twice or has a negative index")
      }
      for (p, e) in l.sensitivity {
        guard candidates.contains(p) else { throw PlanError("layer '\(l.name)' has figures for '\(p)', which is not a candidate") }
        guard e.damage.isFinite, e.damage >= 0 else { throw PlanError("layer '\(l.name)' has damage \(e.damage) at \(p); damages are finite and not negative") }
      }
      if let h = l.hessian, !(h.trace.isFinite && h.score.values.allSatisfy(\.isFinite)) {
        throw PlanError("layer '\(l.name)' has a non-finite Hessian trace or score")
      }
    }
  }
}
