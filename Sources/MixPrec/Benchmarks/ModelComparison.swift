import Execution
import Foundation
import Quantizers
import TensorCore

/// `bench model`: mixprec's FP32 runtime and its uniform INT8 kernels against ONNX Runtime on the
/// FP32 model, on ONNX Runtime's own `quantize_static` INT8 model (QDQ, per-channel weights,
/// MinMax) and on mixprec's exported QDQ model of the same INT8 plan, all measured in one run.
public struct ModelComparison {
  public struct Row: Sendable {
    public var batch: Int
    public var shapes: [String: [Int]]
    public var fp32: ModelBenchmark.Measurement
    public var int8: ModelBenchmark.Measurement
    /// ONNX Runtime medians (ms): FP32 model, its own INT8 model, mixprec's QDQ export.
    public var ortFP32: Double?, ortINT8: Double?, ortOnMixprecQDQ: Double?
  }

  public let fp32: Session
  public let int8: Session
  /// The uniform INT8 plan's weight bytes and the FP32 ones.
  public let int8WeightBytes: Int, fp32WeightBytes: Int
  let model: URL
  /// Inputs the timed batches are drawn from (when their shapes fit).
  let calibration: [String: Tensor]
  let work: URL?
  let ourQDQ: URL?, ortQDQ: URL?

  /// Builds the uniform INT8 model (MinMax ranges on `calibration`) and, with `ort`, writes
  /// mixprec's QDQ export and ONNX Runtime's own INT8 model into a temporary folder.
  public init(model: LoadedModel, calibration: [String: Tensor], exportShapes: [String: [Int]], ort: Bool,
              note: (String) -> Void) throws {
    var options = Quantization.Options()
    options.precision = .int8
    let q = try Quantization.run(model: model, calibration: calibration, options: options)
    self.model = model.url
    self.calibration = calibration
    fp32 = model.session
    int8 = try q.session.with(quantized: q.layers)
    int8WeightBytes = q.weightBytes
    fp32WeightBytes = q.fp32WeightBytes
    guard ort else {
      work = nil; ourQDQ = nil; ortQDQ = nil
      return
    }
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mixprec-bench-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    work = dir
    let ours = dir.appendingPathComponent("mixprec.qdq.onnx")
    try PlanBuilder.exportQDQ(q.layers, session: q.session, shapes: exportShapes, to: ours)
    ourQDQ = ours
    for (name, t) in calibration { try NPY.write(t, to: dir.appendingPathComponent(InputFolder.fileName(name))) }
    let theirs = dir.appendingPathComponent("ort.int8.onnx")
    let made = ORTScripts.run("Calibration/ort_quantize.py", arguments: [model.url.path, theirs.path, "--calib", dir.path], note: note)
    ortQDQ = made == nil ? nil : theirs
  }

  /// Times everything at one batch size (`shapes` already carry it).
  public func measure(batch: Int, shapes: [String: [Int]], runs: Int, profile: Bool, note: (String) -> Void) throws -> Row {
    let f = try ModelBenchmark.run(fp32, shapes: shapes, runs: runs, profile: profile, samples: calibration)
    let q = try ModelBenchmark.run(int8, shapes: shapes, runs: runs, profile: profile, samples: calibration)
    var row = Row(batch: batch, shapes: shapes, fp32: f, int8: q)
    if work != nil {
      row.ortFP32 = ORTScripts.modelMedianMs(model: model.path, shapes: shapes, runs: runs, note: note)
      row.ortINT8 = ortQDQ.flatMap { ORTScripts.modelMedianMs(model: $0.path, shapes: shapes, runs: runs, note: note) }
      row.ortOnMixprecQDQ = ourQDQ.flatMap { ORTScripts.modelMedianMs(model: $0.path, shapes: shapes, runs: runs, note: note) }
    }
    return row
  }

  /// Removes the temporary models.
  public func cleanUp() {
    if let work { try? FileManager.default.removeItem(at: work) }
  }
}
