import Execution
import Foundation
import GraphIR
import ONNXFormat
import Quantizers
import Sensitivity
import TensorCore
import XCTest

/// Embedding tables (Gather along axis 0 of a constant 2-D table) are weight-only layers: their
/// codes are looked up and dequantized, so a quantized table computes exactly what the FP32 graph
/// computes on the dequantized table, and the export feeds the Gather from a DequantizeLinear.
final class EmbeddingTableTests: XCTestCase {
  static let vocabulary = 40, width = 32

  /// ids [N, S] → Gather(table) → MatMul(w) + b → ReduceMean over S → [N, 8].
  static func encoderLikeModel() -> Graph {
    var g = SeededGenerator(seed: 11)
    func t(_ shape: [Int], _ r: ClosedRange<Float>) -> Tensor { seededTensor(shape, r, using: &g) }
    return Graph(
      nodes: [
        Node(name: "embed", opType: "Gather", inputs: ["table", "ids"], outputs: ["e"]),
        Node(name: "proj", opType: "MatMul", inputs: ["e", "w"], outputs: ["p"]),
        Node(name: "bias", opType: "Add", inputs: ["p", "b"], outputs: ["pb"]),
        Node(name: "pool", opType: "ReduceMean", inputs: ["pb"], outputs: ["y"], attributes: ["axes": .ints([1]), "keepdims": .int(0)]),
      ],
      inputs: [ValueInfo(name: "ids", dtype: .int64, shape: [nil, nil])],
      outputs: [ValueInfo(name: "y", dtype: .float32, shape: [nil, 8])],
      initializers: ["table": t([vocabulary, width], -1...1), "w": t([width, 8], -0.5...0.5), "b": t([8], -0.1...0.1)], opset: 13)
  }

  static func ids(_ n: Int, length: Int, seed: UInt64) -> [String: Tensor] {
    var g = SeededGenerator(seed: seed)
    return ["ids": Tensor(shape: [n, length], ints: (0..<(n * length)).map { _ in Int64.random(in: 0..<Int64(vocabulary), using: &g) })]
  }

  func plan(_ session: Session, table: Precision, group: Int? = nil) throws -> PrecisionPlan {
    var calibrator = Calibrator(session: session)
    try calibrator.observe(Self.ids(8, length: 5, seed: 1))
    var plan = try PlanBuilder.uniform(session: session, calibrator: calibrator, precision: .int8, model: "t", modelSHA256: "-")
    for i in plan.layers.indices {
      if plan.layers[i].op == "Gather" {
        plan.layers[i].precision = table
        plan.layers[i].weightGroup = group
      } else {
        plan.layers[i].precision = .fp32
      }
    }
    return plan
  }

  func testTheTableIsAWeightOnlyLayer() throws {
    let graph = Self.encoderLikeModel()
    let layers = graph.layers
    XCTAssertEqual(layers.map(\.opType), ["Gather", "MatMul"])
    XCTAssertTrue(layers[0].isTable)
    XCTAssertEqual(layers[0].weightInput, 0)
    XCTAssertEqual(layers[0].weightName, "table")
    let layout = WeightLayout(graph.nodes[0], weight: layers[0].weightShape)
    XCTAssertEqual([layout.rows, layout.depth], [Self.vocabulary, Self.width])
    XCTAssertTrue(QuantizedLayer.supports(graph.nodes[0], in: graph))
    // One scale per row at int8: V·D bytes of codes + 4·V of scales.
    XCTAssertEqual(PlanBuilder.layerWeightBytes(layers[0], precision: .int8, group: nil, graph: graph), Self.vocabulary * Self.width + 4 * Self.vocabulary)
    // A uniform integer plan gives the table no input range and still validates.
    let session = try Session(graph: graph)
    let p = try plan(session, table: .int8)
    XCTAssertNil(p.layer("embed")?.input)
    XCTAssertNoThrow(try p.validate())
    // A Gather along another axis is not a table; nor one whose indices come from the input's
    // shape alone (positions 0..<S: folded when the graph is specialized, never run).
    var other = graph
    other.nodes[0].attributes["axis"] = .int(1)
    XCTAssertNil(other.embeddingTable(other.nodes[0]))
    var positions = graph
    positions.nodes.insert(contentsOf: [
      Node(name: "shape", opType: "Shape", inputs: ["ids"], outputs: ["s"]),
      Node(name: "length", opType: "Gather", inputs: ["s", "one"], outputs: ["n"]),
      Node(name: "range", opType: "Range", inputs: ["zero", "n", "one"], outputs: ["pos"]),
      Node(name: "pos_embed", opType: "Gather", inputs: ["table", "pos"], outputs: ["pe"]),
    ], at: 0)
    positions.initializers["zero"] = Tensor(shape: [], ints: [0])
    positions.initializers["one"] = Tensor(shape: [], ints: [1])
    XCTAssertEqual(positions.layers.map(\.name), ["embed", "proj"])
  }

  /// The mixed run equals the FP32 graph run on the dequantized table, bit for bit, at every
  /// table precision (int8 per row, int4 in groups of 16, fp16).
  func testAQuantizedTableComputesTheFP32GraphOnItsDequantizedRows() throws {
    let graph = Self.encoderLikeModel()
    let session = try Session(graph: graph)
    let x = Self.ids(6, length: 7, seed: 4)
    let table = try XCTUnwrap(graph.initializers["table"]).floats
    for (precision, group) in [(Precision.int8, Int?.none), (.int4, 16), (.fp16, nil)] {
      let p = try plan(session, table: precision, group: group)
      let runtime = try PlanBuilder.layerQuantizations(p, session: session)
      let expected: [Float]
      switch runtime["embed"] {
      case .table(let bits, let values, let scales, let g)?:
        XCTAssertEqual(bits, precision.weightBits)
        XCTAssertEqual(g, group)
        let span = g ?? Self.width, groups = Self.width / span
        XCTAssertEqual(scales.count, Self.vocabulary * groups)
        let qmax = Int8(WeightQuantizer.maxCode(bits: bits))
        XCTAssertTrue(values.allSatisfy { (-qmax...qmax).contains($0) })
        expected = values.indices.map { j in Float(values[j]) * scales[(j / Self.width) * groups + (j % Self.width) / span] }
      case .half?:
        expected = table.map { Float(Float16($0)) }
      default:
        return XCTFail("\(precision): the table did not run quantized")
      }
      var reference = graph
      reference.initializers["table"] = Tensor(shape: [Self.vocabulary, Self.width], floats: expected)
      let want = try Session(graph: reference).run(x)["y"]!.floats
      let got = try session.with(quantized: runtime).run(x)["y"]!.floats
      XCTAssertEqual(got, want, "\(precision)")
      XCTAssertNotEqual(got, try session.run(x)["y"]!.floats, "\(precision): quantizing the table changed nothing")
    }
  }

  func testIndicesOutOfRangeAreAnErrorAndNegativeOnesCountFromTheEnd() throws {
    let session = try Session(graph: Self.encoderLikeModel())
    let mixed = try session.with(quantized: PlanBuilder.layerQuantizations(plan(session, table: .int8), session: session))
    let last = Int64(Self.vocabulary - 1)
    let a = try mixed.run(["ids": Tensor(shape: [1, 2], ints: [-1, 0])])["y"]!.floats
    let b = try mixed.run(["ids": Tensor(shape: [1, 2], ints: [last, 0])])["y"]!.floats
    XCTAssertEqual(a, b)
    XCTAssertThrowsError(try mixed.run(["ids": Tensor(shape: [1, 1], ints: [Int64(Self.vocabulary)])]))
  }

  /// Every layer, the table included, gets a measured damage in the sweep.
  func testTheSweepMeasuresTheTable() throws {
    let session = try Session(graph: Self.encoderLikeModel())
    var calibrator = Calibrator(session: session)
    let x = Self.ids(16, length: 5, seed: 9)
    try calibrator.observe(x)
    let layers = try SensitivitySweep(candidates: [.fp16, .int8, .int4]).run(session: session, calibrator: calibrator, feeds: x).layers
    let table = try XCTUnwrap(layers.first { $0.name == "embed" })
    for p in ["fp16", "int8", "int4"] { XCTAssertNotNil(table.sensitivity[p], p) }
    XCTAssertGreaterThan(table.sensitivity["int4"]!.damage, table.sensitivity["int8"]!.damage)
  }

  /// ONNX Runtime runs the export (DequantizeLinear per row, or blocked at int4, feeding the
  /// Gather) and computes what the mixed run computes.
  func testTheExportedTableRunsInONNXRuntime() throws {
    let root = QDQExportTests.root
    let graph = Self.encoderLikeModel()
    let session = try Session(graph: graph)
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("mixprec-table-\(UUID().uuidString)")
    let inputs = work.appendingPathComponent("inputs")
    try FileManager.default.createDirectory(at: inputs, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: work) }
    let x = Self.ids(4, length: 6, seed: 2)
    try NPY.write(x["ids"]!, to: inputs.appendingPathComponent("ids.npy"))
    for (precision, group) in [(Precision.int8, Int?.none), (.int4, 16), (.fp16, nil)] {
      let p = try plan(session, table: precision, group: group)
      let model = work.appendingPathComponent("t.onnx"), out = work.appendingPathComponent("y.npy")
      try PlanBuilder.exportQDQ(p, session: session, shapes: ["ids": [4, 6]], to: model)
      if precision != .int4 {  // the importer reads no int4 initializers
        XCTAssertNil(try ONNXImporter.load(model).initializers["table"], "\(precision): the FP32 table is still in the export")
      }
      let r = try ChildProcess.run(root.appendingPathComponent(".venv/bin/python").path,
        [root.appendingPathComponent("Calibration/ort_run.py").path, model.path, inputs.path, out.path], timeLimit: 300)
      XCTAssertEqual(r.status, 0, "\(precision): \(r.stderr.suffix(600))")
      guard r.status == 0 else { continue }
      let theirs = try NPY.read(out).floats
      let ours = try session.with(quantized: PlanBuilder.layerQuantizations(p, session: session)).run(x)["y"]!.floats
      XCTAssertEqual(theirs.count, ours.count)
      for (a, b) in zip(ours, theirs) { XCTAssertEqual(a, b, accuracy: 1e-5, "\(precision)") }
    }
  }
}
