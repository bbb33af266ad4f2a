import ArgumentParser
import Findings
import Foundation
import MixPrec
import Sensitivity
import TensorCore

struct AnalyzeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "analyze",
    abstract: "Quantize one layer at a time to each candidate precision and measure the damage; write analysis.json.")

  @Argument(help: "The ONNX model.") var model: String
  @Option(help: "Calibration folder (one <input name>.npy per model input; labels enable the task metric).") var calib: String
  @Option(help: "Candidate precisions, comma-separated.") var candidates: String = "fp16,int8,int4"
  @Option(parsing: .unconditional, help: "Calibration samples the sweep runs on (ranges use the whole folder).") var samples: Int = 64
  @Option(help: "Sweep only shard k of n (1-based, layers dealt round-robin), e.g. 2/4, or `auto`: k and n from a Slurm job array or a Kubernetes Indexed Job; join with `mixprec merge`.") var shard: String?
  @Option(name: .customLong("shard-count"), parsing: .unconditional, help: "With --shard auto: the shard count (a Kubernetes Indexed Job's completions; default MIXPREC_SHARD_COUNT, or Slurm's array size).")
  var shardCount: Int?
  @Option(help: "Where to write the analysis.") var out: String
  @Option(name: .customLong("weight-granularity"), help: "Weight scales of the integer candidates: channel (one per output channel) or tensor (one per layer, for hardware with a scale per tensor).")
  var weightGranularity = "channel"
  @Option(name: .customLong("activation-ranges"), help: "Input ranges of the integer candidates: calibrated (MSE on the calibration set) or dynamic (each batch's own minimum and maximum at run time, exported as DynamicQuantizeLinear).")
  var activationRanges = "calibrated"
  @OptionGroup var outputs: OutputOptions
  @Option(parsing: .unconditional, help: "Samples per forward pass (bounds memory).") var batch: Int = 32
  @Flag(help: "Also estimate each layer's Hessian trace (Hutchinson), top eigenvalue (Lanczos) and HAWQ-V2 score, and rank-correlate them with the measured damage.")
  var hessian = false
  @Option(parsing: .unconditional, help: "Calibration samples the Hessian traces are estimated on.") var hessianSamples: Int = 16
  @Option(parsing: .unconditional, help: "Hutchinson stops when no layer's running mean moves by more than this (relative).") var traceTolerance: Double = 0.01
  @Option(parsing: .unconditional, help: "Most Hutchinson iterations.") var traceIterations: Int = 64
  @Option(parsing: .unconditional, help: "Lanczos steps per layer for the top eigenvalue.") var lanczosSteps: Int = 8
  @Option(parsing: .unconditional, help: "Calibration samples (of the Hessian's) the top eigenvalues run on.") var eigenSamples: Int = 4
  @Option(parsing: .unconditional, help: "Seed of the random vectors (same seed, same figures).") var seed: UInt64 = 0

  func run() throws {
    let outcome = try analyze()
    try outcome.result.write(to: URL(fileURLWithPath: out))
    let result = outcome.result, last = result.candidates.last ?? ""
    print("\(result.layers.count) layers × \(result.candidates.count) candidates on \(result.samples) samples -> \(out)")
    let worst = result.layers.compactMap { l in l.sensitivity[last].map { (l.name, $0.damage) } }.sorted { $0.1 > $1.1 }.prefix(5)
    print("  damage measured on " + (result.outputs ?? []).map { "\($0.name) (\($0.kind.rawValue)\($0.detected ? ", detected" : ""))" }
      .joined(separator: " + "))
    for (name, damage) in worst { print(String(format: "  most sensitive at %@: %@ (damage %.4g)", last, name, damage)) }
    for c in result.correlations ?? [] where c.precision == last {
      print(String(format: "  Spearman(%@, measured damage at %@) = %.3f over %d layers", c.proxy, c.precision, c.spearman, c.layers))
    }
    print("  " + outcome.phases.map { String(format: "%@ %.1f s", $0.0, $0.1) }.joined(separator: ", ")
      + String(format: "; peak memory %.0f MB", outcome.peakMegabytes))
  }

  /// The options as the pipeline takes them.
  func options() throws -> Analysis.Options {
    var o = Analysis.Options()
    o.candidates = try candidates.split(separator: ",", omittingEmptySubsequences: false).map { s -> Precision in
      guard let p = Precision(rawValue: String(s)), p != .fp32 else { throw CLIError("unknown candidate '\(s)'; use fp16, int8 and/or int4") }
      return p
    }
    o.samples = samples
    o.batch = batch
    o.outputs = try outputs.selection(folder: calib)
    o.weightGranularity = try candidateGranularity(weightGranularity)
    o.activationRanges = try candidateRanges(activationRanges)
    if shard == "auto" {
      if let n = shardCount, n <= 0 { throw CLIError("--shard-count must be positive") }
      o.shard = try ShardScheduler.shard(environment: ProcessInfo.processInfo.environment, count: shardCount)
    } else if let shard {
      guard shardCount == nil else { throw CLIError("--shard-count goes with --shard auto") }
      guard let s = AnalysisResult.parseShard(shard) else { throw CLIError("--shard takes k/n with 1 ≤ k ≤ n, e.g. 2/4, or auto") }
      o.shard = s
    }
    if hessian {
      var h = Analysis.HessianOptions()
      h.samples = hessianSamples
      h.tolerance = traceTolerance
      h.iterations = traceIterations
      h.lanczosSteps = lanczosSteps
      h.eigenSamples = eigenSamples
      h.seed = seed
      o.hessian = h
    }
    try o.validate()
    return o
  }

  /// Runs the analysis (the output folder checked first); `bench analyze` times it.
  func analyze() throws -> Analysis.Outcome {
    let options = try options()
    try checkOutputs([("--out", out)], inputs: [model, calib])
    let model = try openModel(model)
    let folder = try inputFolder(calib, for: model.graph)
    let printer = ProgressPrinter()
    defer { printer.finish() }
    return try Analysis.run(model: model, calibration: folder.tensors, metric: TaskMetric(folder: folder, graph: model.graph),
      options: options, progress: printer.handle)
  }
}
