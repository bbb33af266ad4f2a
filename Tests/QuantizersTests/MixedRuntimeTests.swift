import Execution
import Foundation
import GraphIR
import ONNXFormat
import Quantizers
import TensorCore
import XCTest

/// Plans applied to models: quantized layers run on the kernels and stay close to FP32.
final class MixedRuntimeTests: XCTestCase {
  /// Every precision on the tiny model: outputs within a bound that shrinks with the precision.
  func testEachPrecisionStaysCloseToFP32OnATinyModel() throws {
    let session = try Session(graph: tinyModel())
    var calibrator = Calibrator(session: session)
    try calibrator.observe(tinyInput(64, seed: 1))
    let eval = tinyInput(16, seed: 2)
    let reference = try XCTUnwrap(session.run(eval)["y"]).floats
    let scale = reference.map(abs).max()!
    // Relative to the largest output: fp16 rounding (2⁻¹¹ per value, a few layers), int8 steps
    // (1/255 of each range over ≤ 144 terms), int4 steps (1/15 of each weight row).
    let bounds: [(Precision, Float)] = [(.fp16, 0.005), (.int8, 0.05), (.int4, 0.5)]
    for (precision, bound) in bounds {
      let plan = try PlanBuilder.uniform(session: session, calibrator: calibrator, precision: precision, model: "tiny", modelSHA256: "-")
      XCTAssertEqual(plan.layers.map(\.name), ["conv1", "conv2", "fc", "head"])
      let mixed = try session.with(quantized: PlanBuilder.layerQuantizations(plan, session: session))
      let got = try XCTUnwrap(mixed.run(eval)["y"]).floats
      let worst = zip(got, reference).map { abs($0 - $1) }.max()!
      XCTAssertLessThanOrEqual(worst, bound * scale, "\(precision): worst |Δ| \(worst), largest output \(scale)")
      XCTAssertGreaterThan(worst, 0, "\(precision) changed nothing: the plan did not reach the kernels")
    }
  }

  func testAPlanNamingAnUnknownLayerIsRefused() throws {
    let session = try Session(graph: tinyModel())
    let plan = PrecisionPlan(model: "tiny", modelSHA256: "-", layers: [LayerPlan(name: "nope", op: "Conv", precision: .fp16)])
    XCTAssertThrowsError(try PlanBuilder.layerQuantizations(plan, session: session)) {
      XCTAssertTrue("\($0)".contains("'nope'"), "\($0)")
    }
  }

  /// The real classifier, uniform INT8 with min-max ranges: the same class as FP32 on ≥ 99% of
  /// held-out lines.
  func testClassifierInt8AgreesWithFP32() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let cal = root.appendingPathComponent("Calibration")
    let model = cal.appendingPathComponent("models/ch_ppocr_mobile_v2.0_cls_infer.onnx")
    guard FileManager.default.fileExists(atPath: model.path) else {
      XCTFail("\(model.path) is missing: run `make data` first")
      return
    }
    let session = try Session(graph: ONNXImporter.load(model))
    var calibrator = Calibrator(session: session)
    let calib = try InputFolder(cal.appendingPathComponent("cls-calib"), for: session.graph)
    try calibrator.observe(calib.tensors.mapValues { $0.rows(0..<64) })
    let plan = try PlanBuilder.uniform(session: session, calibrator: calibrator, precision: .int8, model: "cls", modelSHA256: "-")
    let mixed = try session.with(quantized: PlanBuilder.layerQuantizations(plan, session: session))
    let eval = try InputFolder(cal.appendingPathComponent("cls-eval"), for: session.graph).tensors.mapValues { $0.rows(0..<64) }
    let output = session.graph.outputs[0].name
    let a = try XCTUnwrap(session.run(eval)[output]), b = try XCTUnwrap(mixed.run(eval)[output])
    let rows = a.shape[0], classes = a.shape[1]
    var agree = 0
    for r in 0..<rows {
      let ra = a.floats[(r * classes)..<((r + 1) * classes)], rb = b.floats[(r * classes)..<((r + 1) * classes)]
      if ra.firstIndex(of: ra.max()!)! - r * classes == rb.firstIndex(of: rb.max()!)! - r * classes { agree += 1 }
    }
    XCTAssertGreaterThanOrEqual(Double(agree) / Double(rows), 0.99, "int8 agrees with fp32 on \(agree) of \(rows) lines")
  }
}
