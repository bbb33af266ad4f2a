import Findings
import Execution
import Foundation
import GraphIR
import Quantizers
import TensorCore

/// One layer at a time: each candidate precision applied to that layer alone, the model run on
/// calibration samples, its compared outputs (`outputs`) measured against the FP32 ones.
public struct SensitivitySweep {
  public var candidates: [Precision]
  /// The outputs compared and their kinds (every floating-point output, kinds detected, by default).
  public var outputs = OutputSelection()
  /// Range method for the integer candidates (MSE: the best of the saturating methods on both
  /// prepared models, see issue 4's table).
  public var method: RangeMethod = .mse
  public var batch = 32
  /// `.tensor`: the integer candidates keep one weight scale per layer.
  public var granularity: WeightGranularity? = nil
  /// The output the task metric scores (nil: the first compared output).
  public var taskOutput: String?

  public init(candidates: [Precision]) { self.candidates = candidates }

  /// The measured layers, the outputs they were compared on, and the FP32 values of the output
  /// the task metric scores (`taskOutput`, else the first compared one).
  public struct Result {
    public var layers: [AnalysisResult.Layer]
    public var outputs: [ComparedOutput]
    public var reference: Tensor
    /// With `run(probe:)`: layer → candidate → the damage on the first `probe` samples alone.
    public var probe: [String: [String: Double]] = [:]

    public init(layers: [AnalysisResult.Layer], outputs: [ComparedOutput], reference: Tensor) {
      self.layers = layers
      self.outputs = outputs
      self.reference = reference
    }
  }

  /// - Parameters:
  ///   - layers: the names to sweep (a shard), nil for all quantizable layers.
  ///   - pairs: when given, only these candidates of each layer (layers it omits are skipped);
  ///     the result has entries for those pairs only.
  ///   - task: the task metric's mean over the samples `range` of the calibration set given
  ///     the output `taskOutput` names (default the first compared one) and its FP32 values,
  ///     when the set has a metric.
  ///   - probe: when given, the first batch is samples 0..<probe and each pair's damage on it
  ///     alone is kept too (`Result.probe`: how far a sub-sample's damage strays from the full one).
  ///   - progress: (layer passes done, layers × batches, a line about the last one).
  ///
  /// Batch by batch: the FP32 run of the batch keeps every value, each (layer, candidate) run
  /// resumes at its layer from those values, and only the comparison sums are kept; memory is
  /// one batch's activations whatever the sample count.
  public func run(
    session: Session, calibrator: Calibrator, feeds: [String: Tensor], layers names: [String]? = nil,
    pairs: [String: Set<Precision>]? = nil, task: ((Tensor, Tensor, Range<Int>) -> Double)? = nil, probe: Int? = nil,
    progress: (Int, Int, String) -> Void = { _, _, _ in }
  ) throws -> Result {
    let g = session.graph
    let first = try outputs.outputNames(in: g)[0]
    let scored = taskOutput ?? first
    let total = feeds.values.first?.shape.first ?? 0
    let lead = min(max(probe ?? 0, 0), total)
    let slices = (lead > 0 ? [0..<lead] : []) + stride(from: lead, to: total, by: max(batch, 1)).map { $0..<min($0 + batch, total) }
    var probed: [String: [String: Double]] = [:]
    let uniform = try Dictionary(uniqueKeysWithValues: candidates.map { p in
      (p, try PlanBuilder.uniform(session: session, calibrator: calibrator, precision: p, method: method, granularity: granularity, model: "", modelSHA256: ""))
    })
    let todo = g.layers.enumerated().filter { names?.contains($0.element.name) ?? true }
      .filter { QuantizedLayer.supports(g.nodes[$0.element.nodeIndex], in: g) }
      .filter { pairs == nil || !(pairs?[$0.element.name]?.isEmpty ?? true) }
    // One session per (layer, candidate): only that layer quantized (nil: a pair not asked for).
    var mixed: [[Session?]] = []
    for (_, layer) in todo {
      mixed.append(try candidates.map { p in
        if let pairs, pairs[layer.name]?.contains(p) != true { return nil }
        var plan = uniform[p]!
        for i in plan.layers.indices where plan.layers[i].name != layer.name { plan.layers[i].precision = .fp32 }
        return try session.with(quantized: PlanBuilder.layerQuantizations(plan, session: session))
      })
    }
    var compared: [ComparedOutput] = []
    var sums: [[OutputComparison.Outputs]] = []
    var taskSums = [[Double]](repeating: .init(repeating: 0, count: candidates.count), count: todo.count)
    var references: [Tensor] = []
    for (b, range) in slices.enumerated() {
      let x = feeds.mapValues { $0.rows(range) }
      let known = try session.recordingRun(x)
      if b == 0 {
        // Kinds are detected on the first batch's FP32 values.
        compared = try outputs.resolve(graph: g, reference: known)
        sums = .init(repeating: .init(repeating: OutputComparison.Outputs(compared), count: candidates.count), count: todo.count)
      }
      let reference = try requireOutput(known[scored], scored)
      references.append(reference)
      for (i, (_, layer)) in todo.enumerated() {
        for (c, _) in candidates.enumerated() {
          guard let pass = mixed[i][c] else { continue }
          let y = try pass.run(x, resumingAt: layer.name, from: known)
          try sums[i][c].add(y, reference: known)
          if let task { taskSums[i][c] += task(try requireOutput(y[scored], scored), reference, range) * Double(range.count) }
        }
        progress(b * todo.count + i + 1, slices.count * todo.count, "\(layer.name), samples \(range.lowerBound)..<\(range.upperBound)")
      }
      if b == 0 && lead > 0 {
        for (i, (_, layer)) in todo.enumerated() {
          for (c, p) in candidates.enumerated() where mixed[i][c] != nil { probed[layer.name, default: [:]][p.rawValue] = sums[i][c].result.damage }
        }
      }
    }
    var result: [AnalysisResult.Layer] = []
    for (i, (index, layer)) in todo.enumerated() {
      var entry = AnalysisResult.Layer(index: index, name: layer.name, op: layer.opType, params: layer.parameterCount)
      for (c, p) in candidates.enumerated() where mixed[i][c] != nil {
        entry.sensitivity[p.rawValue] = AnalysisResult.Entry(sums[i][c].result, task: task == nil ? nil : taskSums[i][c] / Double(max(total, 1)))
      }
      result.append(entry)
    }
    var out = Result(layers: result, outputs: compared, reference: try concatenate(references))
    out.probe = probed
    return out
  }

  private func concatenate(_ parts: [Tensor]) throws -> Tensor {
    guard parts.count > 1 else { return parts.first ?? Tensor.zeros([0]) }
    var shape = parts[0].shape
    shape[0] = parts.reduce(0) { $0 + $1.shape[0] }
    return Tensor(shape: shape, floats: parts.flatMap { $0.asFloats() })
  }

  private func requireOutput(_ t: Tensor?, _ name: String) throws -> Tensor {
    guard let t else { throw PlanError("the model produced no '\(name)'") }
    return t
  }
}

extension SensitivitySweep {
  /// Damage per input-range method for the `top` layers that `analysis` found most sensitive at its
  /// lowest candidate: layer → method → candidate → damage (integer candidates only), on the
  /// first `samples` of `feeds` (a ranking of methods; the sweep's damages use them all).
  public static func rangeComparison(
    session: Session, calibrator: Calibrator, feeds: [String: Tensor], analysis: AnalysisResult, top: Int = 3,
    methods: [RangeMethod] = [.minmax, .percentile, .mse, .kl], outputs: OutputSelection = OutputSelection(), samples: Int = 16
  ) throws -> [String: [String: [String: Double]]] {
    let total = feeds.values.first?.shape.first ?? 0
    let feeds = feeds.mapValues { $0.rows(0..<min(samples, total)) }
    let integer = analysis.candidates.compactMap(Precision.init(rawValue:)).filter { $0 == .int8 || $0 == .int4 }
    guard let lowest = integer.last else { return [:] }
    let worst = analysis.layers.sorted { ($0.sensitivity[lowest.rawValue]?.damage ?? 0) > ($1.sensitivity[lowest.rawValue]?.damage ?? 0) }
      .prefix(top).map(\.name)
    var out: [String: [String: [String: Double]]] = [:]
    for m in methods {
      var sweep = SensitivitySweep(candidates: integer)
      sweep.method = m
      sweep.outputs = outputs
      for l in try sweep.run(session: session, calibrator: calibrator, feeds: feeds, layers: worst).layers {
        for (p, e) in l.sensitivity { out[l.name, default: [:]][m.rawValue, default: [:]][p] = e.damage }
      }
    }
    return out
  }
}
