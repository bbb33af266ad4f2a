import Foundation
import GraphIR
import ONNXFormat
import TensorCore
import XCTest

/// A corpus of bad inputs, one test per class (issue: crashes, hangs, overwrites, silent
/// acceptance, unclear messages), generated here on a tiny model. Every case must exit non-zero
/// with one line on stderr naming the problem, and leave the work folder exactly as it was:
/// no output written, no input changed.
final class BadInputTests: XCTestCase {
  var work: URL!
  var model: String { work.appendingPathComponent("tiny.onnx").path }
  var calib: String { work.appendingPathComponent("calib").path }

  /// Conv(3→4, 3×3) → Relu → Flatten → Gemm(64 → 5) → Softmax, input [N, 3, 6, 6].
  static func graph(outputs: Bool = true) -> Graph {
    var g = SeededGenerator(seed: 5)
    func t(_ s: [Int]) -> Tensor { Tensor(shape: s, floats: (0..<s.reduce(1, *)).map { _ in Float.random(in: -0.5...0.5, using: &g) }) }
    return Graph(
      nodes: [
        Node(name: "conv", opType: "Conv", inputs: ["x", "w1", "b1"], outputs: ["c"], attributes: [:]),
        Node(name: "relu", opType: "Relu", inputs: ["c"], outputs: ["r"], attributes: [:]),
        Node(name: "flat", opType: "Flatten", inputs: ["r"], outputs: ["f"], attributes: [:]),
        Node(name: "fc", opType: "Gemm", inputs: ["f", "w2", "b2"], outputs: ["z"], attributes: ["transB": .int(1)]),
        Node(name: "sm", opType: "Softmax", inputs: ["z"], outputs: ["p"], attributes: ["axis": .int(-1)]),
      ],
      inputs: [ValueInfo(name: "x", dtype: .float32, shape: [nil, 3, 6, 6])],
      outputs: outputs ? [ValueInfo(name: "p", dtype: .float32, shape: [nil, 5])] : [],
      initializers: ["w1": t([4, 3, 3, 3]), "b1": t([4]), "w2": t([5, 64]), "b2": t([5])], opset: 13)
  }

  static func input(_ n: Int, seed: UInt64 = 1) -> Tensor {
    var g = SeededGenerator(seed: seed)
    return Tensor(shape: [n, 3, 6, 6], floats: (0..<(n * 108)).map { _ in Float.random(in: -1...1, using: &g) })
  }

  override func setUpWithError() throws {
    work = FileManager.default.temporaryDirectory.appendingPathComponent("mixprec-bad-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: URL(fileURLWithPath: calib), withIntermediateDirectories: true)
    try ONNXExporter.write(Self.graph(), opset: 13, to: URL(fileURLWithPath: model))
    try NPY.write(Self.input(8), to: URL(fileURLWithPath: calib).appendingPathComponent("x.npy"))
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(at: work) }

  func mixprec(_ args: [String]) throws -> BinaryRun {
    try runMixprec(args, in: work, environment: ["XDG_CACHE_HOME": work.appendingPathComponent(".cache").path])
  }

  /// Every path under the work folder with its size and content (links as their target).
  func snapshot() throws -> [String: String] {
    var out: [String: String] = [:]
    let fm = FileManager.default
    for case let rel as String in fm.enumerator(atPath: work.path)! where !rel.hasPrefix(".cache") {
      let path = work.appendingPathComponent(rel).path
      switch FileChecks.kind(path) {
      case .regular: out[rel] = (try? Data(contentsOf: URL(fileURLWithPath: path))).map { "\($0.count):\($0.hashValue)" } ?? "?"
      case .symlink: out[rel] = "link:" + ((try? fm.destinationOfSymbolicLink(atPath: path)) ?? "")
      case let k: out[rel] = k.name
      }
    }
    return out
  }

  /// A refused command: non-zero exit, one stderr line containing `expected`, nothing written or changed.
  func assertRefused(_ args: [String], _ expected: String, file: StaticString = #filePath, line: UInt = #line) throws {
    let before = try snapshot()
    let r = try mixprec(args)
    XCTAssertNotEqual(r.status, 0, "\(args) exited 0", file: file, line: line)
    XCTAssertFalse([4, 5, 6, 11].contains(r.status) && r.stderr.isEmpty, "\(args) crashed (status \(r.status))", file: file, line: line)
    let lines = r.stderr.split(separator: "\n")
    XCTAssertEqual(lines.count, 1, "stderr of \(args): \(r.stderr)", file: file, line: line)
    XCTAssertTrue(r.stderr.contains(expected), "stderr of \(args) lacks '\(expected)': \(r.stderr)", file: file, line: line)
    XCTAssertEqual(try snapshot(), before, "\(args) changed the work folder", file: file, line: line)
  }

  func writeNPY(_ header: String, body: Data = Data(), to path: String) throws {
    var h = header
    h += String(repeating: " ", count: (64 - (10 + h.utf8.count + 1) % 64) % 64) + "\n"
    var d = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(h.utf8.count & 0xFF), UInt8(h.utf8.count >> 8)])
    d.append(Data(h.utf8))
    d.append(body)
    try d.write(to: URL(fileURLWithPath: path))
  }

  func folder(_ name: String, _ x: Tensor, labels: Tensor? = nil) throws -> String {
    let dir = work.appendingPathComponent(name)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    try NPY.write(x, to: dir.appendingPathComponent("x.npy"))
    if let labels { try NPY.write(labels, to: dir.appendingPathComponent("labels.npy")) }
    return dir.path
  }

  /// A valid int8 plan of the tiny model, as JSON to edit.
  func planJSON() throws -> [String: Any] {
    let path = work.appendingPathComponent("good.plan.json").path
    let r = try mixprec(["quantize", model, "--calib", calib, "--precision", "int8", "--plan", path])
    XCTAssertEqual(r.status, 0, r.stderr)
    return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
  }

  func write(_ json: [String: Any], _ name: String) throws -> String {
    let path = work.appendingPathComponent(name).path
    try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
    return path
  }

  // MARK: crashes

  func testNPYHeadersWhoseShapeOverflows() throws {
    let dir = work.appendingPathComponent("huge")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    for shape in ["(4611686018427387904, 4611686018427387904)", "(1, 3, 6, 2305843009213693952)"] {
      try writeNPY("{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }", to: dir.appendingPathComponent("x.npy").path)
      try assertRefused(["run", model, "--input", dir.path, "--output", work.appendingPathComponent("out").path], "too large")
    }
    try writeNPY("{'descr': '<f4', 'fortran_order': False, 'shape': (8, 3, 6, 6), }", body: Data(count: 16), to: dir.appendingPathComponent("x.npy").path)
    try assertRefused(["run", model, "--input", dir.path, "--output", work.appendingPathComponent("out").path], "truncated data")
  }

  func testExtremeButFiniteCalibrationValuesQuantize() throws {
    var x = Self.input(8).floats
    for i in stride(from: 0, to: x.count, by: 7) { x[i] = i % 2 == 0 ? 3e38 : -3e38 }
    let tiny = Tensor(shape: [8, 3, 6, 6], floats: (0..<(8 * 108)).map { Float($0 % 3) * 1e-42 })
    for (name, t) in [("extreme", Tensor(shape: [8, 3, 6, 6], floats: x)), ("denormal", tiny)] {
      let dir = try folder(name, t)
      for method in ["minmax", "mse", "kl", "percentile"] {
        let plan = work.appendingPathComponent("\(name)-\(method).json").path
        let r = try mixprec(["quantize", model, "--calib", dir, "--precision", "int8", "--calibrator", method, "--plan", plan])
        XCTAssertEqual(r.status, 0, "\(name) \(method): \(r.stderr)")
        let run = try mixprec(["run", model, "--input", dir, "--output", work.appendingPathComponent("o-\(name)-\(method)").path, "--plan", plan])
        XCTAssertEqual(run.status, 0, "the plan from \(name) data with \(method) must load: \(run.stderr)")
      }
    }
  }

  func testPlansWithBadNumbers() throws {
    let good = try planJSON()
    func edited(_ change: (inout [String: Any]) -> Void) -> [String: Any] {
      var layers = good["layers"] as! [[String: Any]]
      change(&layers[0])
      var p = good
      p["layers"] = layers
      return p
    }
    let out = work.appendingPathComponent("out").path
    let cases: [(String, [String: Any], String)] = [
      ("group0", edited { $0["precision"] = "int4"; $0["weightGroup"] = 0 }, "weight group 0"),
      ("group7", edited { $0["precision"] = "int4"; $0["weightGroup"] = 7 }, "weight group 7"),
      ("scale0", edited { $0["input"] = ["scale": 0, "zero": 0] }, "input scale 0"),
      ("scaleneg", edited { $0["input"] = ["scale": -1, "zero": 0] }, "input scale -1"),
      ("scalenan", edited { $0["input"] = ["scale": "nan", "zero": 0] }, "input scale nan"),
      ("scaleinf", edited { $0["input"] = ["scale": "inf", "zero": 0] }, "input scale inf"),
      ("scaledenormal", edited { $0["input"] = ["scale": 1e-42, "zero": 0] }, "positive finite normal"),
      ("zero300", edited { $0["input"] = ["scale": 0.1, "zero": 300] }, "zero point 300"),
      ("biasnan", edited { $0["biasShift"] = ["nan", 0, 0, 0] }, "non-finite bias shift"),
      ("zerohuge", edited { $0["input"] = ["scale": 0.1, "zero": 1e20] }, "does not fit its field"),
      ("twice", { var p = good; p["layers"] = (good["layers"] as! [[String: Any]]) + [(good["layers"] as! [[String: Any]])[0]]; return p }(), "appears twice"),
    ]
    for (name, json, expected) in cases {
      try assertRefused(["run", model, "--input", calib, "--output", out, "--plan", try write(json, "\(name).json")], expected)
    }
  }

  func testModelWithoutOutputs() throws {
    let bare = work.appendingPathComponent("bare.onnx").path
    try ONNXExporter.write(Self.graph(outputs: false), opset: 13, to: URL(fileURLWithPath: bare))
    try assertRefused(["analyze", bare, "--calib", calib, "--out", work.appendingPathComponent("a.json").path], "has no outputs")
    try assertRefused(["tune", bare, "--calib", calib, "--compression", "2x", "--plan", work.appendingPathComponent("p.json").path], "has no outputs")
  }

  func testLabelsShorterThanSamples() throws {
    let dir = try folder("short", Self.input(8), labels: Tensor(shape: [3], ints: [0, 1, 2]))
    let out = work.appendingPathComponent("o.json").path
    try assertRefused(["analyze", model, "--calib", dir, "--out", out], "holds 3 labels for 8 samples")
    try assertRefused(["analyze", model, "--calib", dir, "--hessian", "--out", out], "holds 3 labels for 8 samples")
    try assertRefused(["tune", model, "--calib", dir, "--compression", "2x", "--plan", out], "holds 3 labels for 8 samples")
    try assertRefused(["run", model, "--input", dir, "--output", work.appendingPathComponent("o").path], "holds 3 labels for 8 samples")
    try assertRefused(["bench", "analyze", model, "--calib", dir, "--samples", "4"], "holds 3 labels for 8 samples")
  }

  func testCandidateLists() throws {
    let out = work.appendingPathComponent("a.json").path
    try assertRefused(["analyze", model, "--calib", calib, "--candidates", "", "--out", out], "unknown candidate ''")
    try assertRefused(["analyze", model, "--calib", calib, "--candidates", "int8,int8", "--out", out], "distinct")
    try assertRefused(["analyze", model, "--calib", calib, "--candidates", "int8,,int4", "--out", out], "unknown candidate ''")
  }

  func testAnalysesThatCoverTooLittle() throws {
    let empty: [String: Any] = ["version": 2, "model": "tiny.onnx", "modelSHA256": try sha(model), "candidates": ["int8"], "samples": 4, "layers": []]
    let plan = work.appendingPathComponent("p.json").path
    try assertRefused(["tune", model, "--calib", calib, "--analysis", try write(empty, "empty.json"), "--compression", "2x", "--plan", plan], "no figures for")
    let part = work.appendingPathComponent("part1.json").path
    XCTAssertEqual(try mixprec(["analyze", model, "--calib", calib, "--samples", "4", "--shard", "1/2", "--out", part]).status, 0)
    try assertRefused(["tune", model, "--calib", calib, "--analysis", part, "--compression", "2x", "--plan", plan], "no figures for 1 of the model's layers")
    // merge: one of two shards, the same shard twice, a whole analysis.
    try assertRefused(["merge", part, "--out", work.appendingPathComponent("m.json").path], "shards 2/2 are missing")
    try assertRefused(["merge", part, part, "--out", work.appendingPathComponent("m.json").path], "shard 1/2 is given twice")
    var broken = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: part))) as? [String: Any])
    broken["version"] = 99
    try assertRefused(["tune", model, "--calib", calib, "--analysis", try write(broken, "v99.json"), "--compression", "2x", "--plan", plan], "version 99")
  }

  func sha(_ path: String) throws -> String {
    let r = try mixprec(["quantize", model, "--calib", calib, "--precision", "fp16", "--plan", work.appendingPathComponent("sha.json").path])
    XCTAssertEqual(r.status, 0, r.stderr)
    let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: work.appendingPathComponent("sha.json"))) as? [String: Any])
    return try XCTUnwrap(json["modelSHA256"] as? String)
  }

  func testInputsOfTheWrongShape() throws {
    let plan = work.appendingPathComponent("p.json").path
    let wrong = try folder("wrong", Tensor(shape: [8, 4, 6, 6], floats: [Float](repeating: 0.5, count: 8 * 144)))
    for extra in [["--bias-correction"], ["--adaround"], ["--calibrator", "easyquant"], ["--calibrator", "pact"]] {
      try assertRefused(["quantize", model, "--calib", wrong, "--precision", "int8", "--plan", plan] + extra, "dimension 1 must be 3")
    }
    let zero = try folder("zero", Tensor(shape: [8, 3, 0, 6], floats: []))
    try assertRefused(["quantize", model, "--calib", zero, "--precision", "int8", "--plan", plan], "must be at least 1")
    let nan = try folder("nan", Tensor(shape: [8, 3, 6, 6], floats: [Float](repeating: .nan, count: 8 * 108)))
    try assertRefused(["quantize", model, "--calib", nan, "--precision", "int8", "--plan", plan], "non-finite")
    try assertRefused(["tune", model, "--calib", nan, "--compression", "2x", "--plan", plan], "non-finite")
    let inf = try folder("inf", Tensor(shape: [8, 3, 6, 6], floats: [Float](repeating: .infinity, count: 8 * 108)))
    try assertRefused(["analyze", model, "--calib", inf, "--out", plan], "non-finite")
    try assertRefused(["inspect", model, "--shape", "x=1x3x100000000000x100000000000"], "too large")
    try assertRefused(["bench", "model", model, "--shape", "x=1x3x4611686018427387904x4", "--no-ort"], "too large")
  }

  // MARK: hangs

  /// A model whose input fixes the batch at 1 and that depends on it (Reshapes to hard-coded
  /// [4, 16] and [1, 64]): `bench model` times batch 1 and skips 8 with a note; asking only for
  /// batches the model cannot take is one error line. Without them the batch is left dynamic and
  /// a folder of 8 samples quantizes.
  func testBenchModelOnAFixedBatch() throws {
    var g = Self.graph()
    g.inputs[0].shape[0] = 1
    g.outputs[0].shape[0] = 1
    let open = work.appendingPathComponent("open.onnx").path
    try ONNXExporter.write(g, opset: 13, to: URL(fileURLWithPath: open))
    let q = try mixprec(["quantize", open, "--calib", calib, "--precision", "int8", "--plan", work.appendingPathComponent("q.json").path])
    XCTAssertEqual(q.status, 0, q.stderr)
    let flat = g.nodes.firstIndex { $0.opType == "Flatten" }!
    g.nodes[flat] = Node(name: "flat", opType: "Reshape", inputs: ["t", "s"], outputs: ["f"], attributes: [:])
    g.nodes.insert(Node(name: "split", opType: "Reshape", inputs: ["r", "s4"], outputs: ["t"], attributes: [:]), at: flat)
    g.initializers["s4"] = Tensor(dtype: .int64, shape: [2], storage: .int([4, 16]))
    g.initializers["s"] = Tensor(dtype: .int64, shape: [2], storage: .int([1, 64]))
    let fixed = work.appendingPathComponent("fixed.onnx").path
    try ONNXExporter.write(g, opset: 13, to: URL(fileURLWithPath: fixed))
    let r = try mixprec(["bench", "model", fixed, "--no-ort", "--runs", "2", "--batches", "1,8"])
    XCTAssertEqual(r.status, 0, r.stderr)
    XCTAssertTrue(r.stderr.contains("batch 8 skipped: input 'x' has a fixed batch dimension of 1"), r.stderr)
    XCTAssertTrue(r.stdout.contains("batch 1 (x=1x3x6x6)"), r.stdout)
    XCTAssertFalse(r.stdout.contains("batch 8"), r.stdout)
    try assertRefused(["bench", "model", fixed, "--no-ort", "--batches", "8"], "batch dimension is fixed at 1 (try --batches 1)")
  }

  func testBenchKernelsWithInfiniteTime() throws {
    try assertRefused(["bench", "kernels", model, "--shape", "x=1x3x6x6", "--min-seconds", "inf", "--no-ort"], "--min-seconds must be between")
    try assertRefused(["bench", "kernels", model, "--shape", "x=1x3x6x6", "--min-seconds", "nan", "--no-ort"], "--min-seconds must be between")
  }

  // MARK: overwrites

  func testOutputsThatAreInputs() throws {
    let plan = work.appendingPathComponent("p.json").path
    let analysis = work.appendingPathComponent("a.analysis.json").path
    XCTAssertEqual(try mixprec(["analyze", model, "--calib", calib, "--samples", "4", "--out", analysis]).status, 0)
    let part = work.appendingPathComponent("part.json").path
    XCTAssertEqual(try mixprec(["analyze", model, "--calib", calib, "--samples", "4", "--shard", "1/1", "--out", part]).status, 0)
    let x = URL(fileURLWithPath: calib).appendingPathComponent("x.npy").path
    try assertRefused(["quantize", model, "--calib", calib, "--precision", "int8", "--plan", model], "would overwrite the input")
    try assertRefused(["quantize", model, "--calib", calib, "--precision", "int8", "--plan", x], "would overwrite the input")
    try assertRefused(["quantize", model, "--calib", calib, "--precision", "int8", "--plan", plan, "--export", model], "would overwrite the input")
    try assertRefused(["tune", model, "--calib", calib, "--analysis", analysis, "--compression", "2x", "--plan", analysis], "would overwrite the input")
    try assertRefused(["tune", model, "--calib", calib, "--analysis", analysis, "--compression", "2x", "--plan", plan, "--report",
      work.appendingPathComponent("a.html").path], "--report's data")
    try assertRefused(["merge", part, "--out", part], "would overwrite the input")
    try assertRefused(["report", analysis, "--out", analysis], "would overwrite the input")
    try assertRefused(["analyze", model, "--calib", calib, "--out", x], "would overwrite the input")
    // The same file under another name: a relative path and a hard link.
    try assertRefused(["quantize", "tiny.onnx", "--calib", "calib", "--precision", "int8", "--plan", "./calib/../tiny.onnx"], "would overwrite the input")
    let link = work.appendingPathComponent("hard.onnx").path
    try FileManager.default.linkItem(atPath: model, toPath: link)
    try assertRefused(["quantize", link, "--calib", calib, "--precision", "int8", "--plan", model], "would overwrite the input")
    // Two outputs on one path.
    try assertRefused(["quantize", model, "--calib", calib, "--precision", "int8", "--plan", plan, "--export", plan], "both name")
    // run's outputs into its own input folder.
    // run's outputs into its own input folder, where a file of the output's name already is.
    let dir = try folder("io", Self.input(2))
    try NPY.write(Self.input(1), to: URL(fileURLWithPath: dir).appendingPathComponent("p.npy"))
    try assertRefused(["run", model, "--input", dir, "--output", dir], "would overwrite the input")
  }

  func testOutputsThatAreNotRegularFiles() throws {
    let fifo = work.appendingPathComponent("fifo").path
    XCTAssertEqual(mkfifo(fifo, 0o644), 0)
    let target = work.appendingPathComponent("target.json").path
    try Data("keep".utf8).write(to: URL(fileURLWithPath: target))
    let link = work.appendingPathComponent("link.json").path
    try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
    let dir = work.appendingPathComponent("adir").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    for (path, kind) in [(fifo, "a device, FIFO or socket"), ("/dev/null", "a device, FIFO or socket"), (link, "a symbolic link"), (dir, "a folder")] {
      try assertRefused(["quantize", model, "--calib", calib, "--precision", "int8", "--plan", path], "is \(kind)")
    }
    try assertRefused(["quantize", model, "--calib", calib, "--precision", "int8", "--plan", work.appendingPathComponent("nowhere/p.json").path], "does not exist")
  }

  // MARK: unclear messages

  func testMessagesSayWhatIsWrong() throws {
    let plan = work.appendingPathComponent("p.json").path
    try assertRefused(["quantize", calib, "--calib", calib, "--precision", "int8", "--plan", plan], "is a folder; give the file")
    try assertRefused(["tune", model, "--calib", calib, "--analysis", calib, "--compression", "2x", "--plan", plan], "is a folder; give the file")
    try assertRefused(["run", model, "--input", calib, "--output", work.appendingPathComponent("o").path, "--plan", calib], "is a folder; give the file")
    try assertRefused(["quantize", model, "--calib", calib, "--precision", "int4", "--group", "-32", "--plan", plan], "not -32")
    try assertRefused(["quantize", model, "--calib", calib, "--precision", "int8", "--weight-granularity", "layer", "--plan", plan], "use tensor, channel or group")
    try assertRefused(["quantize", model, "--calib", calib, "--precision", "int4", "--weight-granularity", "group", "--plan", plan], "group needs --group N")
    try assertRefused(["quantize", model, "--calib", calib, "--precision", "int8", "--weight-granularity", "tensor", "--calibrator", "easyquant", "--plan", plan], "easyquant searches one per output channel")
    try assertRefused(["analyze", model, "--calib", calib, "--samples", "-4", "--out", plan], "must be positive")
    try assertRefused(["analyze", model, "--calib", calib, "--activation-ranges", "runtime", "--out", plan], "use calibrated or dynamic")
    try assertRefused(["quantize", model, "--calib", calib, "--precision", "int8", "--calibrator", "dynamic", "--scheme", "symmetric", "--plan", plan],
      "symmetric does not go with --calibrator dynamic")
    try assertRefused(["quantize", model, "--calib", calib, "--precision", "fp16", "--quantize-activation-matmuls", "--plan", plan],
      "needs --precision int8 or int4")
    let notJSON = work.appendingPathComponent("junk.json").path
    try Data("{ not json".utf8).write(to: URL(fileURLWithPath: notJSON))
    try assertRefused(["report", notJSON, "--out", work.appendingPathComponent("r.html").path], "not valid JSON")
  }
}
