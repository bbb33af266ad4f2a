import Execution
import Foundation
import Kernels
import MixPrec
import TensorCore

extension BenchCommand {
  /// FP32 and uniform INT8 on our kernels against ONNX Runtime on the FP32 model, on its own
  /// quantize_static INT8 model and on our QDQ export, per batch size, in one run.
  func benchModel() throws {
    guard let model else { throw CLIError("bench model needs a MODEL") }
    guard runs > 0 else { throw CLIError("--runs must be positive") }
    let requested = try positiveIntegers(batches, option: "--batches", example: "1,8")
    let loaded = try openModel(model)
    // A model whose inputs fix the batch dimension runs at that batch only: the other sizes are
    // skipped with a note, not an error after the first one was timed.
    let fixed = loaded.graph.inputs.compactMap { input in input.shape.first.flatMap { $0 }.map { (input.name, $0) } }
    let batchSizes = requested.filter { b in fixed.allSatisfy { $0.1 == b } }
    guard let largest = batchSizes.max() else {
      let (name, size) = fixed[0]
      throw CLIError("no batch size of --batches \(batches) fits input '\(name)', whose batch dimension is fixed at \(size) (try --batches \(size))")
    }
    for b in requested where !batchSizes.contains(b) {
      let (name, size) = fixed.first { $0.1 != b }!
      warn("note: batch \(b) skipped: input '\(name)' has a fixed batch dimension of \(size)")
    }
    let given = try parseShapes(shape, graph: loaded.graph)
    let one = try resolveShapes(given, graph: loaded.graph, batch: fixed.first?.1 ?? 1)
    let calibration = try calib.map { try inputFolder($0, for: loaded.graph).tensors.mapValues { $0.rows(0..<min(32, $0.shape[0])) } }
      ?? ModelBenchmark.randomFeeds(loaded.graph, shapes: try resolveShapes(given, graph: loaded.graph, batch: fixed.isEmpty ? Swift.max(8, largest) : largest))
    // A plan (from quantize or tune) timed on our kernels beside the uniform INT8.
    let planned = try plan.map { path -> Session in
      let (p, codes) = try loaded.readPlan(URL(fileURLWithPath: path))
      return try loaded.session(running: p, codes: codes)
    }
    let comparison = try ModelComparison(model: loaded, calibration: calibration, exportShapes: one, ort: !noORT, note: warn)
    defer { comparison.cleanUp() }
    if !json { print("\(loaded.name) on \(ProcessResources.cpuName), \(Parallel.cores) threads, kernels \(KernelISA.selected); INT8 weights \(formatBytes(comparison.int8WeightBytes)) of FP32 \(formatBytes(comparison.fp32WeightBytes))") }
    for batch in batchSizes {
      let shapes = try resolveShapes(given, graph: loaded.graph, batch: batch)
      let r = try comparison.measure(batch: batch, shapes: shapes, runs: runs, profile: profile, note: warn)
      for (label, m) in [("FP32", r.fp32), ("INT8", r.int8)] where profile {
        print("  \(label) profile:")
        for p in m.profile { print("    \(p.op.padding(toLength: 22, withPad: " ", startingAt: 0)) \(fmt(p.ms)) ms in \(p.nodes) nodes") }
        print("    slowest nodes: " + m.slowestNodes.map { "\($0.node) (\($0.op)) \(fmt($0.ms)) ms" }.joined(separator: ", "))
      }
      let planMs = try planned.map { try ModelBenchmark.run($0, shapes: shapes, runs: runs, samples: calibration).medianMs }
      let peak = ProcessResources.peakResidentMegabytes
      if json {
        var fields = "\"bench\":\"model\",\"model\":\"\(loaded.name)\",\"cpu\":\"\(ProcessResources.cpuName)\",\"batch\":\(batch),\"fp32_ms\":\(fmt(r.fp32.medianMs)),\"int8_ms\":\(fmt(r.int8.medianMs)),\"peak_rss_mb\":\(fmt(peak)),\"threads\":\(Parallel.cores)"
        for (key, v) in [("ort_fp32_ms", r.ortFP32), ("ort_int8_ms", r.ortINT8), ("ort_mixprec_qdq_ms", r.ortOnMixprecQDQ), ("plan_ms", planMs)] {
          if let v { fields += ",\"\(key)\":\(fmt(v))" }
        }
        print("{\(fields)}")
        continue
      }
      let shapeText = shapes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.map(String.init).joined(separator: "x"))" }.joined(separator: " ")
      func vs(_ ours: Double, _ peer: Double?, _ what: String) -> String {
        peer.map { "; \(what) \(fmt($0)) ms, ratio \(fmt(ours / $0))x" } ?? ""
      }
      print("batch \(batch) (\(shapeText)), median of \(runs) runs, peak RSS \(fmt(peak)) MB")
      print("  mixprec FP32           \(fmt(r.fp32.medianMs)) ms" + vs(r.fp32.medianMs, r.ortFP32, "ONNX Runtime FP32"))
      print("  mixprec INT8 uniform   \(fmt(r.int8.medianMs)) ms, \(fmt(r.int8.medianMs / r.fp32.medianMs))x of our FP32"
        + vs(r.int8.medianMs, r.ortINT8, "ONNX Runtime on its quantize_static INT8"))
      if let q = r.ortOnMixprecQDQ { print("  ONNX Runtime on mixprec's QDQ export  \(fmt(q)) ms") }
      if let ms = planMs { print("  mixprec plan           \(fmt(ms)) ms, \(fmt(ms / r.fp32.medianMs))x of our FP32 (\(plan ?? ""))") }
    }
  }
}
