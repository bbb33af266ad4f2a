import Execution
import Foundation
import GraphIR
import ONNXFormat
import Quantizers
import Sensitivity
import TensorCore
import XCTest

/// The QDQ exports of the encoder and the detector keep the models' dynamic axes: ONNX Runtime
/// runs them at two shapes other than the calibration's and agrees with the mixed run there.
final class DynamicAxesExportTests: XCTestCase {
  static let root = QDQExportTests.root

  /// Uniform INT8 of `model` calibrated on `samples` of `calib`, exported at the calibration's shapes.
  func export(_ model: String, calib: String, samples: Int, work: URL) throws -> (Session, Session, URL) {
    let cal = Self.root.appendingPathComponent("Calibration")
    let session = try Session(graph: ONNXImporter.load(cal.appendingPathComponent("models/\(model)")))
    let feeds = try InputFolder(cal.appendingPathComponent(calib), for: session.graph).tensors.mapValues { $0.rows(0..<samples) }
    var calibrator = Calibrator(session: session)
    try calibrator.observe(feeds, batch: 8)
    let plan = try PlanBuilder.uniform(session: session, calibrator: calibrator, precision: .int8, model: model, modelSHA256: "-")
    let url = work.appendingPathComponent("int8.onnx")
    try PlanBuilder.exportQDQ(plan, session: session, shapes: feeds.mapValues { [1] + $0.shape.dropFirst() }, to: url)
    return (session, try session.with(quantized: PlanBuilder.layerQuantizations(plan, session: session)), url)
  }

  /// ONNX Runtime's first output of `model` on `feeds`.
  func ort(_ model: URL, _ feeds: [String: Tensor], work: URL, label: String) throws -> Tensor? {
    let folder = work.appendingPathComponent("in-\(label)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    for (name, t) in feeds { try NPY.write(t, to: folder.appendingPathComponent("\(name).npy")) }
    let out = folder.appendingPathComponent("y.npy")
    let r = try ChildProcess.run(Self.root.appendingPathComponent(".venv/bin/python").path,
      [Self.root.appendingPathComponent("Calibration/ort_run.py").path, model.path, folder.path, out.path], timeLimit: 600)
    XCTAssertEqual(r.status, 0, "ONNX Runtime could not run the export at \(label): \(r.stderr.suffix(800))")
    return r.status == 0 ? try NPY.read(out) : nil
  }

  func workDirectory() throws -> URL {
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("mixprec-axes-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    addTeardownBlock { try? FileManager.default.removeItem(at: work) }
    return work
  }

  /// Calibrated at batch × sequence 1 × 32; run at 3 × 16 (sentences cut after 16 tokens) and
  /// 5 × 48 (padded with id 0 and mask 0, as tokenizers pad).
  func testEncoderExportRunsAtOtherBatchesAndLengths() throws {
    let work = try workDirectory()
    let (session, mixed, model) = try export("all-MiniLM-L6-v2.onnx", calib: "enc-calib", samples: 16, work: work)
    let eval = try InputFolder(Self.root.appendingPathComponent("Calibration/enc-eval"), for: session.graph).tensors
    let length = try XCTUnwrap(eval["input_ids"]).shape[1]
    for (batch, tokens) in [(3, 16), (5, 48)] {
      let feeds = eval.mapValues { t -> Tensor in
        let v = t.asInts()
        var out = [Int64](repeating: 0, count: batch * tokens)
        for n in 0..<batch { for s in 0..<min(tokens, length) { out[n * tokens + s] = v[n * length + s] } }
        return Tensor(shape: [batch, tokens], ints: out)
      }
      guard let theirs = try ort(model, feeds, work: work, label: "\(batch)x\(tokens)") else { continue }
      let ours = try XCTUnwrap(mixed.run(feeds)[session.graph.outputs[0].name])
      XCTAssertEqual(theirs.shape, [batch, tokens, 384])
      XCTAssertEqual(ours.shape, theirs.shape)
      let cosine = TaskMetrics.meanCosine(ours, theirs)
      print("encoder export at \(batch)x\(tokens): mean cosine of token embeddings to the mixed run \(cosine)")
      XCTAssertGreaterThan(cosine, 0.995, "\(batch)x\(tokens)")
    }
  }

  /// Calibrated at 640 × 640; run at 1 × 480 × 640 (pages cut) and 2 × 704 × 768 (pages padded
  /// with white, 1.0 after the detector's normalization).
  func testDetectorExportRunsAtOtherImageSizes() throws {
    let work = try workDirectory()
    let (session, mixed, model) = try export("ch_PP-OCRv4_det_infer.onnx", calib: "det-calib", samples: 4, work: work)
    let eval = try XCTUnwrap(InputFolder(Self.root.appendingPathComponent("Calibration/det-eval"), for: session.graph).tensors["x"])
    let (h, w) = (eval.shape[2], eval.shape[3]), source = eval.floats
    for shape in [[1, 3, 480, 640], [2, 3, 704, 768]] {
      var values = [Float](repeating: 1, count: shape.reduce(1, *))
      let (oh, ow) = (shape[2], shape[3])
      for n in 0..<shape[0] { for c in 0..<3 { for y in 0..<min(oh, h) { for x in 0..<min(ow, w) {
        values[((n * 3 + c) * oh + y) * ow + x] = source[((n * 3 + c) * h + y) * w + x]
      } } } }
      let x = Tensor(shape: shape, floats: values)
      let label = shape.map(String.init).joined(separator: "x")
      guard let theirs = try ort(model, ["x": x], work: work, label: label) else { continue }
      let ours = try XCTUnwrap(mixed.run(["x": x])[session.graph.outputs[0].name])
      XCTAssertEqual(theirs.shape, [shape[0], 1, oh, ow])
      XCTAssertEqual(ours.shape, theirs.shape)
      let iou = TaskMetrics.meanMaskIoU(ours, theirs, threshold: 0.3)
      let mean = zip(ours.floats, theirs.floats).map { abs($0 - $1) }.reduce(0, +) / Float(max(ours.count, 1))
      print("detector export at \(label): mask IoU to the mixed run \(iou), mean |Δ| \(mean)")
      XCTAssertGreaterThan(iou, 0.97, label)
      XCTAssertLessThan(mean, 0.01, label)
    }
  }
}
