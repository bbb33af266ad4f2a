import Kernels
import Allocation
import ArgumentParser
import Execution
import Foundation
import GraphIR
import TensorCore

struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Benchmarks: `bench kernels` times the int8/W4A8/fp16 kernels, `bench model MODEL` the FP32 runtime; both against ONNX Runtime.")

  @Argument(help: "What to benchmark: kernels or model.") var target: String
  @Argument(help: "The ONNX model (for `bench model`).") var model: String?
  @Option(name: .long, help: "Input shape NAME=1x3x48x192 (batch dim is replaced by 1 and 32).")
  var shape: [String] = []
  @Option(help: "Batch sizes to time.") var batches: String = "1,32"
  @Option(help: "Timed runs per batch size (after one warm-up run).") var runs: Int = 20
  @Flag(help: "Print one JSON object per measurement.") var json = false
  @Flag(name: .customLong("no-ort"), help: "Skip the ONNX Runtime comparison.") var noORT = false
  @Flag(help: "Print time per op type for each batch size.") var profile = false
  @Option(help: "`bench analyze`: the calibration folder.") var calib: String?
  @Option(help: "`bench analyze`: calibration samples of the sweep and of the Hessian.") var samples: Int = 128
  @Option(help: "Thread counts for `bench kernels`.") var threads: String = "1,2"
  @Option(name: .customLong("min-seconds"), help: "`bench kernels`: time each kernel for at least this long (0: one run).")
  var minSeconds: Double = 0.25

  @Option(help: "`bench qat`: the plan (from tune) to fine-tune.") var plan: String?
  @Option(help: "`bench qat`: the evaluation folder.") var eval: String?
  @OptionGroup var qat: QATOptions

  static let defaultModel = "Calibration/models/ch_ppocr_mobile_v2.0_cls_infer.onnx"

  func run() throws {
    if target == "kernels" {
      let counts = try threads.split(separator: ",").map { s -> Int in
        guard let v = Int(s), v > 0 else { throw CLIError("--threads takes positive integers like 1,2") }
        return v
      }
      // The default model's text-line input: 48 pixels high, 192 wide (what PaddleOCR feeds it).
      let shapes = model == nil && shape.isEmpty ? ["x=1x3x48x192"] : shape
      guard minSeconds >= 0 else { throw CLIError("--min-seconds must not be negative") }
      try KernelBench(threadCounts: counts, json: json, ort: !noORT, model: model ?? Self.defaultModel, shapes: shapes,
        minSeconds: minSeconds).run()
      return
    }
    if target == "analyze" { return try benchAnalyze() }
    if target == "solver" { return try benchSolver() }
    if target == "qat" { return try benchQAT() }
    guard target == "model" else {
      throw CLIError("unknown benchmark '\(target)'; use: bench kernels, bench model MODEL, bench analyze [MODEL] --calib DIR, bench solver, or bench qat MODEL --plan P --calib DIR --eval DIR --qat N")
    }
    guard let model else { throw CLIError("bench model needs a MODEL") }
    guard runs > 0 else { throw CLIError("--runs must be positive") }
    let batchSizes = try batches.split(separator: ",").map { s -> Int in
      guard let v = Int(s), v > 0 else { throw CLIError("--batches takes positive integers like 1,32") }
      return v
    }
    let (_, session) = try openModel(model)
    let given = try parseShapes(shape, graph: session.graph)
    let name = URL(fileURLWithPath: model).lastPathComponent
    for batch in batchSizes {
      let shapes = try resolveShapes(given, graph: session.graph, batch: batch)
      var rng = SystemRandomNumberGenerator()
      let feeds = Dictionary(uniqueKeysWithValues: session.graph.inputs.map { input -> (String, Tensor) in
        let s = shapes[input.name]!
        return (input.name, Tensor(shape: s, floats: (0..<s.reduce(1, *)).map { _ in Float.random(in: -1...1, using: &rng) }))
      })
      _ = try session.run(feeds)  // warm-up; also specializes the graph for these shapes
      var times: [Double] = []
      for _ in 0..<runs {
        let t0 = DispatchTime.now().uptimeNanoseconds
        _ = try session.run(feeds)
        times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
      }
      if profile { try printProfile(session, feeds) }
      times.sort()
      let median = times[times.count / 2]
      let shapeText = shapes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.map(String.init).joined(separator: "x"))" }.joined(separator: " ")
      var ortMedian: Double? = nil
      if !noORT { ortMedian = ORTBenchmark.median(model: model, shapes: shapes, runs: runs) }
      let peak = peakResidentMB()
      if json {
        var fields = "\"bench\":\"model\",\"model\":\"\(name)\",\"batch\":\(batch),\"median_ms\":\(fmt(median)),\"min_ms\":\(fmt(times[0])),\"peak_rss_mb\":\(fmt(peak)),\"threads\":\(Parallel.cores)"
        if let o = ortMedian { fields += ",\"ort_median_ms\":\(fmt(o)),\"ratio_vs_ort\":\(fmt(median / o))" }
        print("{\(fields)}")
      } else {
        var line = "\(name) fp32 batch \(batch) (\(shapeText)): median \(fmt(median)) ms, min \(fmt(times[0])) ms over \(runs) runs, peak RSS \(fmt(peak)) MB"
        if let o = ortMedian { line += "; ONNX Runtime median \(fmt(o)) ms, ratio mixprec/ORT \(fmt(median / o))x" }
        print(line)
      }
    }
  }

  /// Time per op type over one run, largest first.
  func printProfile(_ session: Session, _ feeds: [String: Tensor]) throws {
    var perOp: [String: (Double, Int)] = [:]
    _ = try session.run(feeds, profile: { node, ns in
      let key = node.opType + (node.int("group", default: 1) > 1 ? " (grouped)" : "")
      perOp[key, default: (0, 0)].0 += Double(ns) / 1e6
      perOp[key, default: (0, 0)].1 += 1
    })
    for (op, (ms, count)) in perOp.sorted(by: { $0.value.0 > $1.value.0 }) {
      print("  \(op.padding(toLength: 22, withPad: " ", startingAt: 0)) \(fmt(ms)) ms in \(count) nodes")
    }
  }

  func fmt(_ v: Double) -> String { String(format: "%.3f", v) }
}

/// Peak resident memory of this process in MB (getrusage ru_maxrss is in KB on Linux).
func peakResidentMB() -> Double {
  var usage = rusage()
  getrusage(RUSAGE_SELF.rawValue, &usage)
  return Double(usage.ru_maxrss) / 1024
}

/// Runs one of the `Calibration/` Python scripts (with the project's venv when it exists) and
/// returns its standard output; nil, after a one-line note, when it is missing or fails.
func runCalibrationScript(_ script: String, arguments: [String], input: Data? = nil) -> String? {
  let python = FileManager.default.fileExists(atPath: ".venv/bin/python") ? ".venv/bin/python" : "/usr/bin/env"
  guard FileManager.default.fileExists(atPath: script) else {
    warn("note: ONNX Runtime comparison skipped: \(script) not found (run from the repository root)")
    return nil
  }
  let p = Process()
  p.executableURL = URL(fileURLWithPath: python)
  p.arguments = (python.hasSuffix("env") ? ["python3"] : []) + [script] + arguments
  let stdin = Pipe(), stdout = Pipe()
  if input != nil { p.standardInput = stdin }
  p.standardOutput = stdout
  p.standardError = FileHandle.standardError
  do { try p.run() } catch {
    warn("note: ONNX Runtime comparison skipped: \(error.localizedDescription)")
    return nil
  }
  if let input {
    stdin.fileHandleForWriting.write(input)
    try? stdin.fileHandleForWriting.close()
  }
  let data = stdout.fileHandleForReading.readDataToEndOfFile()
  p.waitUntilExit()
  guard p.terminationStatus == 0, let text = String(data: data, encoding: .utf8) else {
    warn("note: ONNX Runtime comparison failed (\(script) exit \(p.terminationStatus))")
    return nil
  }
  return text
}

/// Times ONNX Runtime on the same model and shapes through `Calibration/ort_bench.py`.
enum ORTBenchmark {
  static func median(model: String, shapes: [String: [Int]], runs: Int) -> Double? {
    let script = ProcessInfo.processInfo.environment["MIXPREC_ORT_BENCH"] ?? "Calibration/ort_bench.py"
    let shapeArgs = shapes.map { "\($0.key)=\($0.value.map(String.init).joined(separator: "x"))" }
    guard let text = runCalibrationScript(script, arguments: [model, "--runs", "\(runs)"] + shapeArgs.flatMap { ["--shape", $0] }),
      let v = Double(text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").last ?? "")
    else { return nil }
    return v
  }

}

extension BenchCommand {
  /// `bench analyze`: the full analysis (sweep + Hessian traces + eigenvalues) timed per phase,
  /// with the peak memory, on the default classifier and its calibration set unless told.
  func benchAnalyze() throws {
    let modelPath = model ?? Self.defaultModel
    let folder = calib ?? (model == nil ? "Calibration/cls-calib" : nil)
    guard let folder else { throw CLIError("bench analyze needs --calib DIR for a model other than the default") }
    guard samples > 0 else { throw CLIError("--samples must be positive") }
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("mixprec-bench-\(getpid()).json").path
    defer { try? FileManager.default.removeItem(atPath: out) }
    let command = try AnalyzeCommand.parse([modelPath, "--calib", folder, "--samples", "\(samples)", "--hessian",
      "--out", out])
    let summary = try command.analyze()
    let name = URL(fileURLWithPath: modelPath).lastPathComponent
    let layers = summary.result.layers.count
    let spearman = summary.result.correlations?.first { $0.proxy == "hessian_score" && $0.precision == "int4" }?.spearman
    if json {
      var fields = summary.phases.map { String(format: "\"%@_s\": %.3f", $0.0.replacingOccurrences(of: " ", with: "_"), $0.1) }
      fields.append(String(format: "\"peak_mb\": %.0f", summary.peakMegabytes))
      if let spearman { fields.append(String(format: "\"spearman_hawq_int4\": %.3f", spearman)) }
      print("{\"bench\": \"analyze\", \"model\": \"\(name)\", \"layers\": \(layers), \"samples\": \(summary.result.samples), " + fields.joined(separator: ", ") + "}")
      return
    }
    print("analysis of \(name): \(layers) layers, sweep on \(summary.result.samples) samples, Hessian on \(summary.result.hessianSamples ?? 0)")
    for (phase, s) in summary.phases { print("  " + phase.padding(toLength: 16, withPad: " ", startingAt: 0) + String(format: "%8.1f s", s)) }
    print("  " + "peak memory".padding(toLength: 16, withPad: " ", startingAt: 0) + String(format: "%8.0f MB", summary.peakMegabytes))
    if let spearman { print(String(format: "  Spearman(HAWQ-V2 score, measured INT4 KL) = %.3f", spearman)) }
  }
}

extension BenchCommand {
  /// `bench solver`: the exact integer program on 500 layers × 4 precisions (seeded random
  /// damages and sizes shaped like FP32/FP16/INT8/INT4), at a budget of a quarter of FP32.
  func benchSolver() throws {
    var g = SeededGenerator(seed: 42)
    let layers = (0..<500).map { _ -> [AssignmentProblem.Option] in
      let params = Double(Int.random(in: 100...100_000, using: &g))
      let d = Double.random(in: 1e-6...1e-2, using: &g)
      return [AssignmentProblem.Option(label: "fp32", damage: 0, size: 4 * params),
              AssignmentProblem.Option(label: "fp16", damage: d * 1e-4, size: 2 * params),
              AssignmentProblem.Option(label: "int8", damage: d * Double.random(in: 0.01...0.1, using: &g), size: params + 16),
              AssignmentProblem.Option(label: "int4", damage: d, size: params / 2 + 16)]
    }
    var p = AssignmentProblem(layers: layers)
    p.sizeBudget = layers.reduce(0) { $0 + $1[0].size } / 4
    let clock = ContinuousClock()
    var solution: AssignmentProblem.Solution? = nil
    let t = clock.measure { solution = try? MILPSolver.solve(p) }
    guard let solution else { throw CLIError("the solver found no assignment") }
    let seconds = Double(t.components.seconds) + Double(t.components.attoseconds) * 1e-18
    let counts = Dictionary(grouping: solution.choice.enumerated().map { layers[$0.offset][$0.element].label }, by: { $0 }).mapValues(\.count)
    if json {
      print(String(format: "{\"bench\": \"solver\", \"layers\": 500, \"candidates\": 4, \"seconds\": %.4f, \"size_fraction\": %.4f}", seconds, solution.size / (p.sizeBudget! * 4)))
      return
    }
    print(String(format: "GLPK MILP, 500 layers × 4 candidates, budget 25%% of FP32: %.3f s; chose ", seconds)
      + counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", "))
  }
}
