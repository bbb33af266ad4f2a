import ArgumentParser
import Execution
import Foundation
import Kernels
import MixPrec
import TensorCore

struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Benchmarks: `bench kernels` times the int8/W4A8/fp16 kernels, `bench model MODEL` the FP32 runtime and uniform INT8; both against ONNX Runtime.")

  @Argument(help: "What to benchmark: kernels, model, analyze, solver, sweep or qat.") var target: String
  @Argument(help: "The ONNX model (for `bench model`).") var model: String?
  @Option(name: .long, help: "Input shape NAME=1x3x48x192 (the batch dim is replaced by each of --batches).")
  var shape: [String] = []
  @Option(help: "Batch sizes to time.") var batches: String = "1,8"
  @Option(parsing: .unconditional, help: "Timed runs per batch size (after one warm-up run).") var runs: Int = 20
  @Flag(help: "Print one JSON object per measurement.") var json = false
  @Flag(name: .customLong("no-ort"), help: "Skip the ONNX Runtime comparison.") var noORT = false
  @Flag(help: "Print time per op type for each batch size.") var profile = false
  @Option(help: "`bench analyze`: the calibration folder; `bench model`: samples the INT8 ranges come from (default: random inputs).") var calib: String?
  @Option(parsing: .unconditional, help: "`bench analyze`: calibration samples of the sweep and of the Hessian (128); `bench sweep`: of the sweep (64).") var samples: Int?
  @Option(help: "Thread counts for `bench kernels`.") var threads: String = "1,2"
  @Option(name: .customLong("min-seconds"), parsing: .unconditional, help: "`bench kernels`: time each kernel for at least this long (0: one run).")
  var minSeconds: Double = 0.25

  @Option(help: "`bench qat`: the plan (from tune) to fine-tune; `bench model`: a plan (from quantize or tune) to time beside uniform INT8.") var plan: String?
  @Option(help: "`bench qat`: the evaluation folder.") var eval: String?
  @OptionGroup var qat: QATOptions

  static let defaultModel = "Calibration/models/ch_ppocr_mobile_v2.0_cls_infer.onnx"

  func run() throws {
    switch target {
    case "kernels": try benchKernels()
    case "model": try benchModel()
    case "analyze": try benchAnalyze()
    case "solver": try benchSolver()
    case "qat": try benchQAT()
    case "sweep": try benchSweep()
    default:
      throw CLIError("unknown benchmark '\(target)'; use: bench kernels, bench model MODEL, bench analyze [MODEL] --calib DIR, bench solver, bench sweep [MODEL] --calib DIR [--eval DIR], or bench qat MODEL --plan P --calib DIR --eval DIR --qat N")
    }
  }

  func benchKernels() throws {
    let counts = try positiveIntegers(threads, option: "--threads", example: "1,2")
    guard minSeconds >= 0, minSeconds.isFinite, minSeconds <= 3600 else { throw CLIError("--min-seconds must be between 0 and 3600") }
    // The default model's text-line input: 48 pixels high, 192 wide (what PaddleOCR feeds it).
    let specs = model == nil && shape.isEmpty ? ["x=1x3x48x192"] : shape
    let session = try openModel(model ?? Self.defaultModel).session
    let shapes = try resolveShapes(parseShapes(specs, graph: session.graph), graph: session.graph, batch: 1)
    let (graph, activations) = try GraphPreparation.specialize(session.graph, inputShapes: shapes)
    let bench = KernelBenchmark(threadCounts: counts, ort: !noORT, layers: try GraphPreparation.convLayerShapes(graph, shapes: activations),
      minSeconds: minSeconds)
    KernelBenchReport(json: json).report(try bench.run(note: warn), isa: bench.isa)
  }

  func fmt(_ v: Double) -> String { String(format: "%.3f", v) }
}
