import Execution
import Foundation
import GraphIR
import ONNXFormat
import Quantizers
import TensorCore
import XCTest

/// The exported QDQ model, run by ONNX Runtime, computes what the mixed runtime computes.
final class QDQExportTests: XCTestCase {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
  /// All of cls-eval: at 64 rows one flipped near-tie line is already 1.6%.
  static let rows = 256
  /// Mean |Δ| of the softmax outputs. Even the same QDQ arithmetic differs at rounding ties (a
  /// value one ulp either side of a code boundary moves a whole step) and ONNX Runtime replaces
  /// QDQ pairs by its own integer kernels with another requantization; measured 1.3e-3 for
  /// uniform INT8 on the classifier.
  static let meanSoftmaxBound: Float = 0.01

  func compare(_ plan: PrecisionPlan, _ session: Session, label: String) throws {
    let cal = Self.root.appendingPathComponent("Calibration")
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("mixprec-qdq-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: work) }
    let model = work.appendingPathComponent("mixed.onnx"), out = work.appendingPathComponent("ort.npy")
    try PlanBuilder.exportQDQ(plan, session: session, shapes: ["x": [1, 3, 48, 192]], to: model)
    let python = Self.root.appendingPathComponent(".venv/bin/python").path
    let r = try ChildProcess.run(python, [Self.root.appendingPathComponent("Calibration/ort_run.py").path, model.path,
      cal.appendingPathComponent("cls-eval").path, out.path, "--rows", "\(Self.rows)"], timeLimit: 300)
    XCTAssertEqual(r.status, 0, "ONNX Runtime could not run the \(label) export: \(r.stderr.suffix(800))")
    guard r.status == 0 else { return }
    let theirs = try NPY.read(out)
    let eval = try InputFolder(cal.appendingPathComponent("cls-eval"), for: session.graph).tensors.mapValues { $0.rows(0..<Self.rows) }
    let mixed = try session.with(quantized: PlanBuilder.layerQuantizations(plan, session: session))
    let ours = try XCTUnwrap(mixed.run(eval)[session.graph.outputs[0].name])
    XCTAssertEqual(ours.shape, theirs.shape)
    let a = ours.floats, b = theirs.floats, classes = ours.shape[1]
    var agree = 0
    for r in 0..<Self.rows {
      let ra = Array(a[(r * classes)..<((r + 1) * classes)]), rb = Array(b[(r * classes)..<((r + 1) * classes)])
      if ra.firstIndex(of: ra.max()!) == rb.firstIndex(of: rb.max()!) { agree += 1 }
    }
    let mean = zip(a, b).map { abs($0 - $1) }.reduce(0, +) / Float(a.count)
    print("QDQ \(label): argmax agreement \(agree)/\(Self.rows), mean |Δ| \(mean)")
    XCTAssertGreaterThanOrEqual(Double(agree) / Double(Self.rows), 0.99, "\(label): argmax agreement \(agree)/\(Self.rows)")
    XCTAssertLessThanOrEqual(mean, Self.meanSoftmaxBound, "\(label): mean |Δ| \(mean)")
  }

  func classifier() throws -> (Session, Calibrator) {
    let cal = Self.root.appendingPathComponent("Calibration")
    let session = try Session(graph: ONNXImporter.load(cal.appendingPathComponent("models/ch_ppocr_mobile_v2.0_cls_infer.onnx")))
    var calibrator = Calibrator(session: session)
    let calib = try InputFolder(cal.appendingPathComponent("cls-calib"), for: session.graph)
    try calibrator.observe(calib.tensors.mapValues { $0.rows(0..<64) })
    return (session, calibrator)
  }

  func testUniformInt8ExportAgreesWithTheMixedRun() throws {
    let (session, calibrator) = try classifier()
    let plan = try PlanBuilder.uniform(session: session, calibrator: calibrator, precision: .int8, model: "cls", modelSHA256: "-")
    try compare(plan, session, label: "uniform int8")
  }

  /// Per-tensor weights (one scale per layer) export as a scalar-scale DequantizeLinear (no axis),
  /// and ONNX Runtime computes what the mixed run computes.
  func testPerTensorInt8ExportAgreesWithTheMixedRun() throws {
    let (session, calibrator) = try classifier()
    let plan = try PlanBuilder.uniform(session: session, calibrator: calibrator, precision: .int8, granularity: .tensor,
      model: "cls", modelSHA256: "-")
    XCTAssertTrue(plan.layers.allSatisfy { $0.precision != .int8 || $0.weightGranularity == .tensor })
    for case .integer(_, _, let scales, _, _, _, _) in try PlanBuilder.layerQuantizations(plan, session: session).values {
      XCTAssertEqual(Set(scales).count, 1)
    }
    let layers = PlanBuilder.qdqLayers(try PlanBuilder.layerQuantizations(plan, session: session))
    let g = try QDQExport.rewrite(session.graph, layers: layers).graph
    let dequantizers = g.nodes.filter { $0.opType == "DequantizeLinear" && $0.name.hasSuffix("_w_dequantize") }
    XCTAssertEqual(dequantizers.count, plan.layers.filter { $0.precision == .int8 }.count)
    for n in dequantizers {
      XCTAssertNil(n.attributes["axis"], n.name)
      XCTAssertEqual(g.initializers[n.inputs[1]]?.shape, [], n.name)
    }
    try compare(plan, session, label: "per-tensor int8")
  }

  /// Dynamic input ranges export as DynamicQuantizeLinear → DequantizeLinear (no calibrated
  /// scale), and ONNX Runtime, taking each run's range as the mixed run does, agrees with it.
  func testDynamicInt8ExportAgreesWithTheMixedRun() throws {
    let (session, calibrator) = try classifier()
    let plan = try PlanBuilder.uniform(session: session, calibrator: calibrator, precision: .int8, method: .dynamic,
      model: "cls", modelSHA256: "-")
    XCTAssertTrue(plan.layers.allSatisfy { $0.precision != .int8 || ($0.input == nil && $0.rangeMethod == .dynamic) })
    let g = try QDQExport.rewrite(session.graph, layers: PlanBuilder.qdqLayers(PlanBuilder.layerQuantizations(plan, session: session))).graph
    XCTAssertEqual(g.nodes.filter { $0.opType == "DynamicQuantizeLinear" }.count, plan.layers.filter { $0.precision == .int8 }.count)
    XCTAssertFalse(g.nodes.contains { $0.opType == "QuantizeLinear" })
    try compare(plan, session, label: "dynamic int8")
  }

  /// A seeded random mix of FP32, FP16, INT8, INT4 per channel and INT4 in groups of 32 (opset 21).
  func testRandomMixedExportAgreesWithTheMixedRun() throws {
    let (session, calibrator) = try classifier()
    let int8 = try PlanBuilder.uniform(session: session, calibrator: calibrator, precision: .int8, model: "cls", modelSHA256: "-")
    var g = SeededGenerator(seed: 2024)
    var plan = int8
    for i in plan.layers.indices {
      switch g.next() % 5 {
      case 0: plan.layers[i].precision = .fp32
      case 1: plan.layers[i].precision = .fp16
      case 2: plan.layers[i].precision = .int4
      case 3:
        plan.layers[i].precision = .int4
        plan.layers[i].weightGroup = 32
      default: break
      }
    }
    let kinds = Set(plan.layers.map { "\($0.precision)\($0.weightGroup.map { "g\($0)" } ?? "")" })
    XCTAssertEqual(kinds.count, 5, "the seed should give every kind: \(kinds)")
    try compare(plan, session, label: "random mixed")
  }

  /// The export keeps the model's dynamic axes: ONNX Runtime runs it at two shapes other than the
  /// calibration's 48×192 (other batches and widths: eval images cropped to 160 columns and
  /// padded with zeros to 256, as PaddleOCR pads), and agrees with the mixed run there.
  func testExportRunsAtOtherShapes() throws {
    let (session, calibrator) = try classifier()
    let plan = try PlanBuilder.uniform(session: session, calibrator: calibrator, precision: .int8, model: "cls", modelSHA256: "-")
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("mixprec-shapes-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: work) }
    let model = work.appendingPathComponent("int8.onnx")
    try PlanBuilder.exportQDQ(plan, session: session, shapes: ["x": [1, 3, 48, 192]], to: model)
    let mixed = try session.with(quantized: PlanBuilder.layerQuantizations(plan, session: session))
    let eval = try InputFolder(Self.root.appendingPathComponent("Calibration/cls-eval"), for: session.graph).tensors["x"]!
    let source = eval.floats, (h, w) = (eval.shape[2], eval.shape[3])
    for shape in [[16, 3, 48, 160], [8, 3, 48, 256]] {
      var values = [Float](repeating: 0, count: shape.reduce(1, *))
      let width = shape[3]
      for n in 0..<shape[0] { for c in 0..<3 { for y in 0..<h { for x in 0..<min(width, w) {
        values[((n * 3 + c) * h + y) * width + x] = source[((n * 3 + c) * h + y) * w + x]
      } } } }
      let x = Tensor(shape: shape, floats: values)
      let folder = work.appendingPathComponent("in-\(shape.map(String.init).joined(separator: "x"))")
      try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
      try NPY.write(x, to: folder.appendingPathComponent("x.npy"))
      let out = folder.appendingPathComponent("y.npy")
      let r = try ChildProcess.run(Self.root.appendingPathComponent(".venv/bin/python").path,
        [Self.root.appendingPathComponent("Calibration/ort_run.py").path, model.path, folder.path, out.path], timeLimit: 300)
      XCTAssertEqual(r.status, 0, "ONNX Runtime could not run the export at \(shape): \(r.stderr.suffix(800))")
      guard r.status == 0 else { continue }
      let theirs = try NPY.read(out)
      let ours = try XCTUnwrap(mixed.run(["x": x])[session.graph.outputs[0].name])
      XCTAssertEqual(theirs.shape, [shape[0], 2])
      XCTAssertEqual(ours.shape, theirs.shape)
      let mean = zip(ours.floats, theirs.floats).map { abs($0 - $1) }.reduce(0, +) / Float(max(ours.floats.count, 1))
      XCTAssertLessThan(mean, Self.meanSoftmaxBound, "mean |Δ| at \(shape)")
    }
  }
}
