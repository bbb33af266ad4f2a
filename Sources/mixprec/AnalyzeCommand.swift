import ArgumentParser
import Execution
import Foundation
import GraphIR
import Quantizers
import Sensitivity
import TensorCore

struct AnalyzeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "analyze",
    abstract: "Quantize one layer at a time to each candidate precision and measure the damage; write analysis.json.")

  @Argument(help: "The ONNX model.") var model: String
  @Option(help: "Calibration folder (one <input name>.npy per model input; labels enable the task metric).") var calib: String
  @Option(help: "Candidate precisions, comma-separated.") var candidates: String = "fp16,int8,int4"
  @Option(help: "Calibration samples the sweep runs on (ranges use the whole folder).") var samples: Int = 64
  @Option(help: "Sweep only shard k of n (1-based, layers dealt round-robin), e.g. 2/4; join with `mixprec merge`.") var shard: String?
  @Option(help: "Where to write the analysis.") var out: String
  @Option(help: "Samples per forward pass (bounds memory).") var batch: Int = 32
  @Flag(help: "Also estimate each layer's Hessian trace (Hutchinson), top eigenvalue (Lanczos) and HAWQ-V2 score, and rank-correlate them with the measured damage.")
  var hessian = false
  @Option(help: "Calibration samples the Hessian traces are estimated on.") var hessianSamples: Int = 16
  @Option(help: "Hutchinson stops when no layer's running mean moves by more than this (relative).") var traceTolerance: Double = 0.01
  @Option(help: "Most Hutchinson iterations.") var traceIterations: Int = 64
  @Option(help: "Lanczos steps per layer for the top eigenvalue.") var lanczosSteps: Int = 8
  @Option(help: "Calibration samples (of the Hessian's) the top eigenvalues run on.") var eigenSamples: Int = 4
  @Option(help: "Seed of the random vectors (same seed, same figures).") var seed: UInt64 = 0

  func run() throws {
    let summary = try analyze()
    let result = summary.result, precisions = result.candidates
    print("\(result.layers.count) layers × \(precisions.count) candidates on \(result.samples) samples -> \(out)")
    let worst = result.layers.compactMap { l in l.sensitivity[precisions.last!].map { (l.name, $0.kl) } }.sorted { $0.1 > $1.1 }.prefix(5)
    for (name, kl) in worst { print(String(format: "  most sensitive at %@: %@ (KL %.4g)", precisions.last!, name, kl)) }
    for c in result.correlations ?? [] where c.precision == precisions.last! {
      print(String(format: "  Spearman(%@, measured KL at %@) = %.3f over %d layers", c.proxy, c.precision, c.spearman, c.layers))
    }
    print("  " + summary.phases.map { String(format: "%@ %.1f s", $0.0, $0.1) }.joined(separator: ", ")
      + String(format: "; peak memory %.0f MB", summary.peakMegabytes))
  }

  /// What one analysis measured about itself.
  struct Summary {
    var result: AnalysisResult
    /// (phase, wall seconds) in order.
    var phases: [(String, Double)]
    var peakMegabytes: Double
  }

  func analyze() throws -> Summary {
    let clock = ContinuousClock()
    let begin = clock.now
    var mark = begin
    var phases: [(String, Double)] = []
    func lap(_ name: String) {
      let d = clock.now - mark
      phases.append((name, Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18))
      mark = clock.now
    }
    let precisions = try candidates.split(separator: ",").map { s -> Precision in
      guard let p = Precision(rawValue: String(s)), p != .fp32 else {
        throw CLIError("unknown candidate '\(s)'; use fp16, int8 and/or int4")
      }
      return p
    }
    guard samples > 0, batch > 0, hessianSamples > 0, eigenSamples > 0, traceIterations > 0, lanczosSteps > 0, traceTolerance > 0 else {
      throw CLIError("--samples, --batch, --hessian-samples, --eigen-samples, --trace-iterations, --lanczos-steps and --trace-tolerance must be positive")
    }
    try requireOutputFolder(out, option: "--out")
    var part: (k: Int, n: Int)? = nil
    if let shard {
      let v = shard.split(separator: "/").compactMap { Int($0) }
      guard v.count == 2, v[1] > 0, (1...v[1]).contains(v[0]) else { throw CLIError("--shard takes k/n with 1 ≤ k ≤ n, e.g. 2/4") }
      part = (v[0], v[1])
    }
    let (_, session) = try openModel(model)
    let folder = try InputFolder(URL(fileURLWithPath: calib), for: session.graph)
    let count = min(samples, folder.tensors.values.first?.shape.first ?? 0)
    let feeds = folder.tensors.mapValues { $0.rows(0..<count) }
    var calibrator = Calibrator(session: session)
    progress("calibrating on \(calib)")
    try calibrator.observe(folder.tensors, batch: batch, grams: hessian)
    lap("calibration")
    let all = session.graph.layers.map(\.name)
    let names = part.map { p in all.enumerated().filter { $0.offset % p.n == p.k - 1 }.map(\.element) } ?? all
    // The task metric on the same samples when the folder has labels.
    let metric = try taskMetricFunction(folder, graph: session.graph)
    let task = metric?.score, taskName = metric?.name
    let sweep = SensitivitySweep(candidates: precisions)
    var sweepBar: ProgressBar? = nil
    let swept = try sweep.run(session: session, calibrator: calibrator, feeds: feeds, layers: names, task: task) { done, total, line in
      if sweepBar == nil { sweepBar = ProgressBar("sweep", total: total, unit: "layers×batches") }
      sweepBar!.update(done, line)
    }
    var layers = swept.layers
    lap("sweep")
    var hessianCount: Int? = nil
    if hessian {
      let count = min(hessianSamples, folder.tensors.values.first?.shape.first ?? 0)
      hessianCount = count
      var estimator = HessianEstimator(seed: seed)
      estimator.tolerance = traceTolerance
      estimator.maxIterations = traceIterations
      estimator.lanczosSteps = lanczosSteps
      var analysis = HessianAnalysis(estimator: estimator, candidates: precisions)
      analysis.batch = batch
      analysis.eigenSamples = eigenSamples
      var bars: [String: ProgressBar] = [:]
      let output = try analysis.run(
        session: session, feeds: folder.tensors.mapValues { $0.rows(0..<count) }, layers: layers.map(\.name),
        grams: calibrator.grams
      ) { phase, done, total, detail in
        if bars[phase] == nil {
          bars.values.forEach { $0.finish() }
          bars[phase] = ProgressBar(phase, total: total, unit: phase == "lanczos" ? "layers" : "iterations")
        }
        bars[phase]!.update(done, detail)
      }
      bars.values.forEach { $0.finish() }
      for i in layers.indices { layers[i].hessian = output.figures[layers[i].name] }
      phases += [("hessian traces", output.seconds["traces"] ?? 0), ("eigenvalues", output.seconds["eigenvalues"] ?? 0)]
      mark = clock.now
    }
    var result = AnalysisResult(
      model: URL(fileURLWithPath: model).lastPathComponent, modelSHA256: try sha256Hex(ofFile: model),
      candidates: precisions.map(\.rawValue), samples: count, layers: layers)
    result.shard = shard
    result.taskMetric = taskName
    result.taskReference = task?(swept.reference, 0..<count)
    result.hessianSamples = hessianCount
    result.correlate()
    result.summary = modelSummary(session.graph)
    if part == nil {
      result.rangeComparison = try SensitivitySweep.rangeComparison(session: session, calibrator: calibrator, feeds: feeds, analysis: result)
      lap("range methods")
    }
    try result.write(to: URL(fileURLWithPath: out))
    let total = clock.now - begin
    phases.append(("total", Double(total.components.seconds) + Double(total.components.attoseconds) * 1e-18))
    return Summary(result: result, phases: phases, peakMegabytes: peakResidentMegabytes())
  }
}

struct MergeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "merge", abstract: "Join the shards of `mixprec analyze --shard k/n` into one analysis.json.")

  @Argument(help: "The partial analyses.") var parts: [String]
  @Option(help: "Where to write the joined analysis.") var out: String

  func run() throws {
    guard !parts.isEmpty else { throw CLIError("give the partial analyses to merge") }
    try requireOutputFolder(out, option: "--out")
    let merged = try AnalysisResult.merge(parts.map { try AnalysisResult.read(from: URL(fileURLWithPath: $0)) })
    try merged.write(to: URL(fileURLWithPath: out))
    print("\(merged.layers.count) layers from \(parts.count) parts -> \(out)")
  }
}
