import Foundation
import XCTest

@testable import Execution
@testable import GraphIR
@testable import ONNXFormat
@testable import TensorCore

/// The FP32 runtime against ONNX Runtime on the prepared PaddleOCR models, with text lines in
/// fonts the calibration sets do not use (Calibration/*-check, written by Calibration/prepare).
final class RealModelTests: XCTestCase {
  /// Softmax outputs, the bound: float32 reassociation across ~50 layers stays far below.
  static let softmaxTolerance: Float = 1e-3
  /// A row is ill-conditioned when ONNX Runtime itself moves it by more than this under
  /// N(0, 1e-6) input noise (Calibration/prepare measures it); there two float32 runtimes can
  /// differ by the same order, so the bound becomes a multiple of ORT's own spread.
  static let illConditionedSpread: Float = 1e-4
  static let spreadMultiple: Float = 3

  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  static let calibration = root.appendingPathComponent("Calibration")

  /// Our FP32 outputs of `model` on the check set `set`; nil (after a failure naming the
  /// missing file) when `make data` has not prepared the model.
  func runCheckSet(model: String, set: String) throws -> [String: Tensor]? {
    let modelURL = Self.calibration.appendingPathComponent("models/\(model)")
    guard FileManager.default.fileExists(atPath: modelURL.path) else {
      XCTFail("\(modelURL.path) is missing: run `make data` (Calibration/prepare) first")
      return nil
    }
    let session = try Session(graph: try ONNXImporter.load(modelURL))
    let folder = try InputFolder(Self.calibration.appendingPathComponent(set), for: session.graph)
    return try session.run(folder.tensors)
  }

  func compare(model: String, set: String, output: String) throws {
    let calibration = Self.calibration
    guard let outputs = try runCheckSet(model: model, set: set) else { return }
    let ours = try XCTUnwrap(outputs[output])
    let stem = String(InputFolder.fileName(output).dropLast(4))
    let theirs = try NPY.read(calibration.appendingPathComponent("\(set)/ort/\(stem).npy"))
    let spread = try NPY.read(calibration.appendingPathComponent("\(set)/ort/\(stem).sensitivity.npy")).floats
    XCTAssertEqual(ours.shape, theirs.shape)
    let a = ours.floats, b = theirs.floats
    let classes = ours.shape.last!
    XCTAssertEqual(spread.count, a.count / classes)
    var worstStable: Float = 0, illConditioned = 0
    for row in 0..<(a.count / classes) {
      let ra = a[(row * classes)..<((row + 1) * classes)], rb = b[(row * classes)..<((row + 1) * classes)]
      XCTAssertEqual(ra.firstIndex(of: ra.max()!)! - row * classes, rb.firstIndex(of: rb.max()!)! - row * classes,
        "\(model): argmax differs at row \(row)")
      let diff = zip(ra, rb).map { abs($0 - $1) }.max() ?? 0
      if spread[row] > Self.illConditionedSpread {
        illConditioned += 1
        XCTAssertLessThanOrEqual(diff, max(Self.softmaxTolerance, Self.spreadMultiple * spread[row]),
          "\(model): ill-conditioned row \(row) (ORT's own spread \(spread[row])) differs by \(diff)")
      } else {
        worstStable = max(worstStable, diff)
      }
    }
    XCTAssertLessThanOrEqual(worstStable, Self.softmaxTolerance, "\(model): max |mixprec − ORT| = \(worstStable)")
    XCTAssertLessThanOrEqual(illConditioned, a.count / classes / 50, "\(model): too many ill-conditioned rows to be a fair check")
    print("\(model): max |mixprec − ORT| \(worstStable) on well-conditioned rows; \(illConditioned) ill-conditioned rows")
  }

  func testClassifierMatchesONNXRuntime() throws {
    try compare(model: "ch_ppocr_mobile_v2.0_cls_infer.onnx", set: "cls-check", output: "save_infer_model/scale_0.tmp_1")
  }

  func testRecognizerMatchesONNXRuntime() throws {
    try compare(model: "ch_PP-OCRv4_rec_infer.onnx", set: "rec-check", output: "softmax_11.tmp_0")
  }

  /// The detector's probability map (a sigmoid, 1×1×640×640 per page) on rendered pages: every
  /// pixel within 1e-3 of ONNX Runtime, and the text mask at PaddleOCR's threshold 0.3 the same
  /// but for pixels within 1e-3 of it.
  func testDetectorMatchesONNXRuntime() throws {
    guard let outputs = try runCheckSet(model: "ch_PP-OCRv4_det_infer.onnx", set: "det-check") else { return }
    let ours = try XCTUnwrap(outputs["sigmoid_0.tmp_0"])
    let theirs = try NPY.read(Self.calibration.appendingPathComponent("det-check/ort/sigmoid_0.tmp_0.npy"))
    XCTAssertEqual(ours.shape, theirs.shape)
    var worst: Float = 0, flipped = 0
    for (a, b) in zip(ours.floats, theirs.floats) {
      worst = max(worst, abs(a - b))
      if (a > 0.3) != (b > 0.3) && abs(b - 0.3) > 1e-3 { flipped += 1 }
    }
    XCTAssertLessThanOrEqual(worst, Self.softmaxTolerance, "detector: max |mixprec − ORT| = \(worst)")
    XCTAssertEqual(flipped, 0, "detector: mask pixels that differ away from the threshold")
    print("detector: max |mixprec − ORT| \(worst) over \(ours.count) pixels")
  }

  /// The sentence encoder (int64 token inputs, four outputs, two of them int64) on tokenized
  /// sentences: embeddings within 1e-4 of ONNX Runtime, the int64 outputs equal.
  func testEncoderMatchesONNXRuntime() throws {
    guard let ours = try runCheckSet(model: "all-MiniLM-L6-v2.onnx", set: "enc-check") else { return }
    for name in ["token_embeddings", "sentence_embedding", "input_ids_out", "attention_mask_out"] {
      let a = try XCTUnwrap(ours[name], name)
      let b = try NPY.read(Self.calibration.appendingPathComponent("enc-check/ort/\(name).npy"))
      XCTAssertEqual(a.shape, b.shape, name)
      XCTAssertEqual(a.dtype, b.dtype, name)
      if a.dtype == .int64 {
        XCTAssertEqual(a.asInts(), b.asInts(), name)
      } else {
        let worst = zip(a.floats, b.floats).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, 1e-4, "\(name): max |mixprec − ORT| = \(worst)")
      }
    }
  }

  func testRecognizerKeepsItsDictionary() throws {
    let url = Self.root.appendingPathComponent("Calibration/models/ch_PP-OCRv4_rec_infer.onnx")
    let graph = try ONNXImporter.load(url)
    let characters = try XCTUnwrap(graph.metadata["character"]).split(separator: "\n", omittingEmptySubsequences: false)
    // 6625 classes = blank + dictionary + space.
    XCTAssertEqual(characters.count + 2, 6625)
  }
}
