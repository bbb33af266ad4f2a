import Foundation
import SwiftProtobuf
import XCTest

@testable import ONNXFormat
@testable import TensorCore

/// Runs the built `mixprec` binary and checks its output, stderr and exit code.
final class CLITests: XCTestCase {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
  static let classifier = root.appendingPathComponent("Calibration/models/ch_ppocr_mobile_v2.0_cls_infer.onnx").path

  var work: URL!

  override func setUpWithError() throws {
    work = FileManager.default.temporaryDirectory.appendingPathComponent("mixprec-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(at: work) }

  typealias Result = BinaryRun

  /// Runs the binary from the repository root; latency tables are cached under the test's folder.
  func mixprec(_ args: [String]) throws -> Result {
    try runMixprec(args, in: Self.root, environment: ["XDG_CACHE_HOME": work.path])
  }

  /// A failing command prints exactly one line on stderr, containing `expected`, and exits non-zero.
  func assertOneLineError(_ args: [String], _ expected: String, file: StaticString = #filePath, line: UInt = #line) throws {
    let r = try mixprec(args)
    XCTAssertNotEqual(r.status, 0, "\(args) exited 0", file: file, line: line)
    let lines = r.stderr.split(separator: "\n")
    XCTAssertEqual(lines.count, 1, "stderr of \(args): \(r.stderr)", file: file, line: line)
    XCTAssertTrue(r.stderr.contains(expected), "stderr of \(args): \(r.stderr)", file: file, line: line)
  }

  /// A one-node model with an op the runtime does not have.
  func writeUnsupportedModel() throws -> String {
    var m = Onnx_ModelProto()
    m.irVersion = 8
    var op = Onnx_OperatorSetIdProto()
    op.version = 16
    m.opsetImport = [op]
    var n = Onnx_NodeProto()
    n.name = "grid_0"
    n.opType = "GridSample"
    n.input = ["x", "x"]
    n.output = ["y"]
    m.graph.node = [n]
    var v = Onnx_ValueInfoProto()
    v.name = "x"
    v.type.tensorType.elemType = 1
    m.graph.input = [v]
    v.name = "y"
    m.graph.output = [v]
    let url = work.appendingPathComponent("grid.onnx")
    try m.serializedData().write(to: url)
    return url.path
  }

  func writeInput(_ t: Tensor, name: String = "x") throws -> String {
    let dir = work.appendingPathComponent("in-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    try NPY.write(t, to: dir.appendingPathComponent(name + ".npy"))
    return dir.path
  }

  func testOpsListAndInspect() throws {
    let ops = try mixprec(["inspect", "--ops"])
    XCTAssertEqual(ops.status, 0)
    XCTAssertTrue(ops.stdout.split(separator: "\n").contains("HardSwish"))
    let r = try mixprec(["inspect", Self.classifier, "--shape", "x=1x3x48x192"])
    XCTAssertEqual(r.status, 0, r.stderr)
    XCTAssertTrue(r.stdout.contains("layers: 54"), r.stdout)
    XCTAssertTrue(r.stdout.contains("[200, 1, 5, 5]"), r.stdout)
    XCTAssertTrue(r.stdout.contains("op histogram"), r.stdout)
  }

  func testRunWritesOneFilePerOutput() throws {
    let out = work.appendingPathComponent("out")
    let input = Self.root.appendingPathComponent("Calibration/cls-check").path
    let r = try mixprec(["run", Self.classifier, "--input", input, "--output", out.path])
    XCTAssertEqual(r.status, 0, r.stderr)
    let y = try NPY.read(out.appendingPathComponent("save_infer_model_scale_0.tmp_1.npy"))
    XCTAssertEqual(y.shape, [8, 2])
    for row in 0..<8 { XCTAssertEqual(y.floats[2 * row] + y.floats[2 * row + 1], 1, accuracy: 1e-5) }
    XCTAssertTrue(r.stdout.contains("top1: "), r.stdout)
  }

  func testBadModelsGiveOneLine() throws {
    let junk = work.appendingPathComponent("junk.onnx")
    try Data("this is not a model".utf8).write(to: junk)
    try assertOneLineError(["inspect", junk.path], "not a valid ONNX model")
    let whole = try Data(contentsOf: URL(fileURLWithPath: Self.classifier))
    let truncated = work.appendingPathComponent("truncated.onnx")
    try whole.prefix(whole.count / 3).write(to: truncated)
    try assertOneLineError(["inspect", truncated.path], "truncated.onnx")
    try assertOneLineError(["inspect", work.appendingPathComponent("missing.onnx").path], "not found")
    try assertOneLineError(["inspect", try writeUnsupportedModel()],
      "unsupported op 'GridSample' at node 'grid_0' (opset 16); supported ops: `mixprec inspect --ops`")
  }

  /// `bench model --json` on the classifier: FP32 and uniform INT8 on our kernels and, in the same
  /// run, ONNX Runtime on the FP32 model, on its own quantize_static INT8 model and on our QDQ
  /// export (so both exports load and run there). One run each: the fields, not the speed.
  func testBenchModelComparesAgainstONNXRuntime() throws {
    let calib = Self.root.appendingPathComponent("Calibration/cls-check").path
    let r = try mixprec(["bench", "model", Self.classifier, "--shape", "x=1x3x48x192", "--calib", calib, "--batches", "1,2",
      "--runs", "1", "--json"])
    XCTAssertEqual(r.status, 0, r.stderr)
    let rows = try r.stdout.split(separator: "\n").map { line -> [String: Any] in
      try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not a JSON object: \(line)")
    }
    XCTAssertEqual(rows.compactMap { $0["batch"] as? Int }, [1, 2])
    for row in rows {
      for key in ["fp32_ms", "int8_ms", "ort_fp32_ms", "ort_int8_ms", "ort_mixprec_qdq_ms", "peak_rss_mb"] {
        XCTAssertGreaterThan(row[key] as? Double ?? 0, 0, "\(key) in \(row)")
      }
      XCTAssertNotNil(row["cpu"] as? String)
    }
  }

  /// `bench kernels --json`: one object per line with the documented fields, every kernel family
  /// present, positive rates (one run each: the shape of the output, not the speed, is tested).
  func testBenchKernelsJSONLines() throws {
    let r = try mixprec(["bench", "kernels", "--json", "--no-ort", "--threads", "1", "--min-seconds", "0"])
    XCTAssertEqual(r.status, 0, r.stderr)
    let rows = try r.stdout.split(separator: "\n").map { line -> [String: Any] in
      let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
      return try XCTUnwrap(object, "not a JSON object: \(line)")
    }
    for row in rows {
      for key in ["kernel", "isa", "m", "n", "k", "threads", "gops"] {
        XCTAssertNotNil(row[key], "\(key) missing in \(row)")
      }
      XCTAssertGreaterThan(row["gops"] as? Double ?? 0, 0, "\(row)")
      XCTAssertEqual(row["threads"] as? Int, 1)
    }
    let kernels = Set(rows.compactMap { $0["kernel"] as? String })
    let vnni = ["avxvnni", "avx512vnni"].contains(rows.first?["isa"] as? String ?? "")
    for k in ["int8_gemm", "w4a8_gemm", "fp16_gemm", "sgemm_openblas", "int8_conv", "int8_depthwise", "fp16_conv",
      "fp16_depthwise"] + (vnni ? ["vnni_peak"] : []) {
      XCTAssertTrue(kernels.contains(k), "\(k) missing from \(kernels.sorted())")
    }
    // The GEMM shapes the issue names: 512³, 1024³ and the 1×4096×4096 GEMV.
    let int8 = rows.filter { $0["kernel"] as? String == "int8_gemm" }.map { [$0["m"] as? Int, $0["n"] as? Int, $0["k"] as? Int] }
    XCTAssertEqual(int8, [[512, 512, 512], [1024, 1024, 1024], [1, 4096, 4096]])
  }

  /// `quantize` writes a plan that `run --plan` applies; a plan for another model is refused.
  func testQuantizeThenRunWithThePlan() throws {
    let check = Self.root.appendingPathComponent("Calibration/cls-check").path
    let plan = work.appendingPathComponent("plan.json").path
    let q = try mixprec(["quantize", Self.classifier, "--calib", check, "--precision", "int8", "--plan", plan, "--eval", check])
    XCTAssertEqual(q.status, 0, q.stderr)
    XCTAssertTrue(q.stdout.contains("argmax agreement with fp32"), q.stdout)
    let data = try Data(contentsOf: URL(fileURLWithPath: plan))
    let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    let layers = try XCTUnwrap(json["layers"] as? [[String: Any]])
    XCTAssertFalse(layers.isEmpty)
    XCTAssertTrue(layers.allSatisfy { $0["precision"] as? String == "int8" && $0["input"] != nil }, "\(layers.prefix(2))")
    XCTAssertEqual((json["modelSHA256"] as? String)?.count, 64)
    let r = try mixprec(["run", Self.classifier, "--input", check, "--output", work.appendingPathComponent("out").path, "--plan", plan])
    XCTAssertEqual(r.status, 0, r.stderr)
    XCTAssertTrue(r.stdout.contains("top1:"), r.stdout)
    let recognizer = Self.root.appendingPathComponent("Calibration/models/ch_PP-OCRv4_rec_infer.onnx").path
    try assertOneLineError(["run", recognizer, "--input", check, "--output", work.path, "--plan", plan], "was made for")
  }

  /// `analyze` shards write the documented fields (with `--hessian` the HAWQ-V2 figures);
  /// `merge` joins them in model order and rank-correlates the proxies over all layers.
  func testAnalyzeShardsAndMerge() throws {
    let check = Self.root.appendingPathComponent("Calibration/cls-check").path
    var parts: [String] = []
    for k in 1...2 {
      let out = work.appendingPathComponent("part\(k).json").path
      let r = try mixprec(["analyze", Self.classifier, "--calib", check, "--candidates", "int8,int4", "--samples", "4", "--shard", "\(k)/2",
        "--hessian", "--hessian-samples", "4", "--trace-iterations", "6", "--lanczos-steps", "3", "--eigen-samples", "2", "--out", out])
      XCTAssertEqual(r.status, 0, r.stderr)
      parts.append(out)
    }
    let merged = work.appendingPathComponent("analysis.json").path
    let m = try mixprec(["merge"] + parts + ["--out", merged])
    XCTAssertEqual(m.status, 0, m.stderr)
    let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: merged))) as? [String: Any])
    let layers = try XCTUnwrap(json["layers"] as? [[String: Any]])
    XCTAssertEqual(layers.count, 54, "54 layers dealt over 2 shards: 27 + 27")
    XCTAssertEqual(layers.compactMap { $0["index"] as? Int }, layers.compactMap { $0["index"] as? Int }.sorted())
    for l in layers {
      XCTAssertNotNil(l["name"]); XCTAssertNotNil(l["op"]); XCTAssertNotNil(l["params"])
      let s = try XCTUnwrap(l["sensitivity"] as? [String: [String: Any]])
      for p in ["int8", "int4"] {
        for key in ["damage", "sqnr", "cosine", "agreement", "task"] { XCTAssertNotNil(s[p]?[key], "\(p).\(key) missing in \(l["name"] ?? "")") }
      }
      let h = try XCTUnwrap(l["hessian"] as? [String: Any], "hessian missing in \(l["name"] ?? "")")
      XCTAssertGreaterThan(try XCTUnwrap(h["trace"] as? Double), 0)
      XCTAssertGreaterThan(try XCTUnwrap(h["top_eigenvalue"] as? Double), 0)
      XCTAssertNotNil(h["ci95"])
      XCTAssertEqual(h["samples"] as? Int, 6)
      let score = try XCTUnwrap(h["score"] as? [String: Double])
      XCTAssertGreaterThan(try XCTUnwrap(score["int4"]), try XCTUnwrap(score["int8"]), "INT4 moves the weights further than INT8")
    }
    XCTAssertEqual(json["taskMetric"] as? String, "top1")
    let correlations = try XCTUnwrap(json["correlations"] as? [[String: Any]])
    XCTAssertEqual(Set(correlations.compactMap { $0["proxy"] as? String }), ["hessian_score", "hessian_trace", "top_eigenvalue", "gram_score"])
    XCTAssertTrue(correlations.allSatisfy { ($0["layers"] as? Int) == 54 })
  }

  /// `tune` under a compression budget: the plan fits, the export and the report data are
  /// written, a second run reads the latency table from the cache; impossible budgets are one line.
  func testTuneRespectsTheBudgetAndWritesItsOutputs() throws {
    let check = Self.root.appendingPathComponent("Calibration/cls-check").path
    let analysis = work.appendingPathComponent("analysis.json").path
    XCTAssertEqual(try mixprec(["analyze", Self.classifier, "--calib", check, "--samples", "6", "--out", analysis]).status, 0)
    let plan = work.appendingPathComponent("plan.json").path, onnx = work.appendingPathComponent("mixed.onnx").path
    let report = work.appendingPathComponent("cls.html").path
    let args = ["tune", Self.classifier, "--calib", check, "--analysis", analysis, "--compression", "5x", "--runs", "3",
                "--plan", plan, "--export", onnx, "--report", report]
    let r = try mixprec(args)
    XCTAssertEqual(r.status, 0, r.stderr)
    XCTAssertTrue(r.stderr.contains("layer latencies measured"), r.stderr)
    let p = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: plan))) as? [String: Any])
    let predicted = try XCTUnwrap(p["predicted"] as? [String: Any]), measured = try XCTUnwrap(p["measured"] as? [String: Any])
    let data = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: work.appendingPathComponent("cls.analysis.json"))) as? [String: Any])
    let tuning = try XCTUnwrap(data["tuning"] as? [String: Any])
    let fp32 = try XCTUnwrap((tuning["fp32"] as? [String: Any])?["weightBytes"] as? Int)
    XCTAssertLessThanOrEqual(try XCTUnwrap(predicted["weightBytes"] as? Int) * 5, fp32, "the plan does not fit 5x")
    XCTAssertNotNil(measured["latencyMs"]); XCTAssertNotNil(measured["damage"]); XCTAssertNotNil(predicted["latencyMs"])
    XCTAssertEqual((tuning["chosen"] as? [String: String])?.count, 54)
    XCTAssertEqual((tuning["baselines"] as? [[String: Any]])?.count, 3)
    XCTAssertTrue(FileManager.default.fileExists(atPath: onnx))
    let again = try mixprec(args)
    XCTAssertEqual(again.status, 0, again.stderr)
    XCTAssertTrue(again.stderr.contains("layer latencies from the cache"), again.stderr)
    try assertOneLineError(["tune", Self.classifier, "--calib", check, "--analysis", analysis, "--compression", "20x", "--runs", "2", "--plan", plan],
      "budget not reachable")
    try assertOneLineError(["tune", Self.classifier, "--calib", check, "--plan", plan], "give a budget")
    try assertOneLineError(["tune", Self.classifier, "--calib", check, "--latency-budget", "3", "--plan", plan], "needs a unit")
  }

  /// `tune --qat`: the plan comes back fine-tuned (rounding qat, learned scale factors, codes
  /// beside it) on the folder's labels and KL; QAT usage mistakes are one line.
  func testTuneWithQAT() throws {
    let check = Self.root.appendingPathComponent("Calibration/cls-check").path
    let analysis = work.appendingPathComponent("qat-analysis.json").path
    XCTAssertEqual(try mixprec(["analyze", Self.classifier, "--calib", check, "--samples", "6", "--out", analysis]).status, 0)
    let plan = work.appendingPathComponent("qat.plan.json").path
    let r = try mixprec(["tune", Self.classifier, "--calib", check, "--analysis", analysis, "--compression", "5x", "--runs", "2",
                         "--qat", "1", "--qat-batch", "2", "--qat-loss", "both", "--plan", plan])
    XCTAssertEqual(r.status, 0, r.stderr)
    XCTAssertTrue(r.stderr.contains("QAT: 1 epochs"), r.stderr)
    XCTAssertTrue(r.stdout.contains("chosen, no QAT"), "the table shows the plan before QAT: \(r.stdout)")
    let p = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: plan))) as? [String: Any])
    let layers = try XCTUnwrap(p["layers"] as? [[String: Any]])
    let trained = layers.filter { ($0["rounding"] as? String) == "qat" }
    XCTAssertFalse(trained.isEmpty)
    XCTAssertTrue(trained.allSatisfy { ($0["weightScaleFactors"] as? [Double])?.isEmpty == false })
    XCTAssertTrue(FileManager.default.fileExists(atPath: work.appendingPathComponent("qat.plan.codes.npz").path))
    try assertOneLineError(["tune", Self.classifier, "--calib", check, "--compression", "5x", "--qat", "1", "--qat-loss", "ctc", "--plan", plan], "unknown --qat-loss 'ctc'")
    try assertOneLineError(["tune", Self.classifier, "--calib", check, "--compression", "5x", "--qat-data", check, "--plan", plan], "--qat-data needs --qat")
  }

  func testUsageMistakesGiveOneLine() throws {
    try assertOneLineError(["analyze", Self.classifier, "--calib", ".", "--candidates", "int3", "--out", "a.json"], "unknown candidate 'int3'")
    // Output folders are checked before any work: no write error after a long run, no orphan files.
    let check = Self.root.appendingPathComponent("Calibration/cls-check").path
    let orphan = work.appendingPathComponent("p.json").path
    try assertOneLineError(["quantize", Self.classifier, "--calib", check, "--precision", "int8", "--plan", orphan, "--export", "/nonexistent-dir/m.onnx"], "folder '/nonexistent-dir' does not exist")
    XCTAssertFalse(FileManager.default.fileExists(atPath: orphan), "the plan was written although the export could not be")
    try assertOneLineError(["analyze", Self.classifier, "--calib", check, "--out", "/nonexistent-dir/a.json"], "folder '/nonexistent-dir' does not exist")
    try assertOneLineError(["merge", "a.json", "--out", "/nonexistent-dir/m.json"], "folder '/nonexistent-dir' does not exist")
    try assertOneLineError(["analyze", Self.classifier, "--calib", ".", "--shard", "3/2", "--out", "a.json"], "--shard takes k/n")
    try assertOneLineError(["quantize", Self.classifier, "--calib", ".", "--precision", "int3", "--plan", "p.json"], "--precision must be fp16, int8 or int4")
    try assertOneLineError(["quantize", Self.classifier, "--calib", ".", "--precision", "int8", "--group", "32", "--plan", "p.json"], "--group applies to int4")
    try assertOneLineError(["quantize", Self.classifier, "--calib", ".", "--precision", "int8", "--calibrator", "magic", "--plan", "p.json"], "unknown --calibrator")
    try assertOneLineError(["bench", "kernelz"], "unknown benchmark 'kernelz'")
    try assertOneLineError(["bench", "kernels", "--threads", "0"], "--threads takes positive integers")
    try assertOneLineError(["bench", "model"], "needs a MODEL")
    try assertOneLineError(["bench", "qat", Self.classifier, "--qat", "1"], "bench qat needs MODEL --plan PLAN --calib DIR --eval DIR")
    try assertOneLineError(["bench", "model", Self.classifier, "--runs", "0"], "--runs must be positive")
    try assertOneLineError(["inspect"], "give a MODEL")
    try assertOneLineError(["inspect", Self.classifier, "--shape", "x=1x3x48"], "expects rank 4")
  }

  func testBadInputsGiveOneLine() throws {
    let out = work.appendingPathComponent("out").path
    let empty = work.appendingPathComponent("empty")
    try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
    try assertOneLineError(["run", Self.classifier, "--input", empty.path, "--output", out], "missing input file")
    try assertOneLineError(["run", Self.classifier, "--input", work.appendingPathComponent("nope").path, "--output", out],
      "does not exist")
    let wrongShape = try writeInput(Tensor.zeros([1, 1, 48, 192]))
    try assertOneLineError(["run", Self.classifier, "--input", wrongShape, "--output", out], "dimension 1 must be 3")
    let wrongType = try writeInput(Tensor.zeros([1, 3, 48, 192], dtype: .int64))
    try assertOneLineError(["run", Self.classifier, "--input", wrongType, "--output", out], "holds int64 values; model input 'x' takes float32")
    XCTAssertFalse(FileManager.default.fileExists(atPath: out), "a failed run left an output folder")
  }

  /// NaN inputs run (a model may tolerate them) but are named in one warning line on stderr.
  func testNaNInputWarns() throws {
    var values = [Float](repeating: 0, count: 3 * 48 * 192)
    values[5] = .nan
    let input = try writeInput(Tensor(shape: [1, 3, 48, 192], floats: values))
    let r = try mixprec(["run", Self.classifier, "--input", input, "--output", work.appendingPathComponent("o").path])
    XCTAssertEqual(r.status, 0)
    XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
    XCTAssertTrue(r.stderr.contains("warning: input 'x' holds 1 NaN"), r.stderr)
  }

  func testOutputPathThatIsAFileFails() throws {
    let blocker = work.appendingPathComponent("blocker")
    try Data().write(to: blocker)
    let input = Self.root.appendingPathComponent("Calibration/cls-check").path
    try assertOneLineError(["run", Self.classifier, "--input", input, "--output", blocker.path], "cannot create output folder")
  }
}
