import Findings
import Execution
import Gradients
import GraphIR
import Quantizers
import TensorCore

/// The `--hessian` half of `analyze`: traces, top eigenvalues, HAWQ-V2 scores and the Gram proxy
/// for every layer the curvature model differentiates.
public struct HessianAnalysis {
  public var estimator: HessianEstimator
  public var candidates: [Precision]
  public var batch = 32
  /// Samples (the first ones) the Lanczos eigenvalues run on: each layer needs its own
  /// products, so this is the expensive part; 0 skips the eigenvalues.
  public var eigenSamples = 4
  /// `.tensor`: Ω's ‖Q(W) − W‖² with one weight scale per layer (as the plans it ranks).
  public var granularity: WeightGranularity? = nil

  public init(estimator: HessianEstimator, candidates: [Precision]) {
    self.estimator = estimator
    self.candidates = candidates
  }

  /// - Parameters:
  ///   - grams: Gram collectors by layer name (the calibrator's), for the layer-local proxy.
  ///   - progress: (phase, step done, steps, detail).
  public func run(session: Session, feeds: [String: Tensor], layers names: [String]? = nil,
                  grams: [String: GramCollector] = [:],
                  progress: (String, Int, Int, String) -> Void = { _, _, _, _ in }) throws -> Output {
    let clock = ContinuousClock()
    var started = clock.now
    var seconds: [String: Double] = [:]
    func lap(_ phase: String) {
      let d = clock.now - started
      seconds[phase] = d.seconds
      started = clock.now
    }
    let model = try CurvatureModel(session: session, feeds: feeds, layers: names, batch: batch)
    let e = estimator
    let traces = try e.traces(model) { i, change in
      progress("hutchinson", i, e.maxIterations, change.isFinite ? String(format: "largest relative change %.3g", change) : "")
    }
    var done = 0
    lap("traces")
    let count = feeds.values.first?.shape.first ?? 0
    let small = count <= eigenSamples || eigenSamples == 0 ? model
      : try CurvatureModel(session: session, feeds: feeds.mapValues { $0.rows(0..<eigenSamples) }, layers: names, batch: batch)
    let top = eigenSamples == 0 ? [:] : try e.topEigenvalues(small) { name in
      done += 1
      progress("lanczos", done, model.layers.count, name)
    }
    lap("eigenvalues")
    let g = session.graph
    let nodes = Dictionary(g.layers.map { ($0.name, g.nodes[$0.nodeIndex]) }, uniquingKeysWith: { a, _ in a })
    var out: [String: AnalysisResult.Hessian] = [:]
    for l in model.layers {
      guard let t = traces[l.name], let node = nodes[l.name], let w = model.weights[l.weight] else { continue }
      let perWeight = t.mean / Double(w.count)
      var score: [String: Double] = [:], gramScore: [String: Double] = [:]
      let gramTrace = grams[l.name].map(ProxyScores.gramTrace)
      for p in candidates {
        let err = ProxyScores.quantizationError(w, node: node, precision: p, granularity: granularity)
        score[p.rawValue] = perWeight * err
        if let gramTrace { gramScore[p.rawValue] = gramTrace * err }
      }
      out[l.name] = AnalysisResult.Hessian(trace: t.mean, ci95: t.ci95, samples: t.samples, topEigenvalue: top[l.name],
        score: score, gramTrace: gramTrace, gramScore: gramTrace == nil ? nil : gramScore)
    }
    return Output(figures: out, seconds: seconds)
  }

  public struct Output {
    /// By layer name.
    public var figures: [String: AnalysisResult.Hessian]
    /// Wall time per phase ("traces", "eigenvalues").
    public var seconds: [String: Double]
  }
}
