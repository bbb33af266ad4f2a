import Execution
import Foundation
import GraphIR
import Kernels
import ONNXFormat
import Quantizers
import TensorCore
import XCTest

/// MatMuls between two activations (attention's Q·Kᵀ and P·V) at INT8: the left input as uint8
/// codes, the right as symmetric int8 codes, int32 sums on the integer kernels.
final class ActivationProductTests: XCTestCase {
  static let depth = 24

  /// x [N, S, 24] → q = x·Wq, k = x·Wk → scores = q·kᵀ → softmax → mix = p·x → mean over S.
  static func attentionModel() -> Graph {
    var g = SeededGenerator(seed: 5)
    func t(_ shape: [Int], _ r: ClosedRange<Float>) -> Tensor { seededTensor(shape, r, using: &g) }
    return Graph(
      nodes: [
        Node(name: "query", opType: "MatMul", inputs: ["x", "wq"], outputs: ["q"]),
        Node(name: "key", opType: "MatMul", inputs: ["x", "wk"], outputs: ["k"]),
        Node(name: "key_t", opType: "Transpose", inputs: ["k"], outputs: ["kt"], attributes: ["perm": .ints([0, 2, 1])]),
        Node(name: "scores", opType: "MatMul", inputs: ["q", "kt"], outputs: ["s"]),
        Node(name: "softmax", opType: "Softmax", inputs: ["s"], outputs: ["p"], attributes: ["axis": .int(-1)]),
        Node(name: "mix", opType: "MatMul", inputs: ["p", "x"], outputs: ["o"]),
        Node(name: "pool", opType: "ReduceMean", inputs: ["o"], outputs: ["y"], attributes: ["axes": .ints([1]), "keepdims": .int(0)]),
      ],
      inputs: [ValueInfo(name: "x", dtype: .float32, shape: [nil, nil, depth])],
      outputs: [ValueInfo(name: "y", dtype: .float32, shape: [nil, depth])],
      initializers: ["wq": t([depth, 16], -0.5...0.5), "wk": t([depth, 16], -0.5...0.5)], opset: 13)
  }

  static func inputs(_ n: Int, length: Int, seed: UInt64) -> [String: Tensor] {
    var g = SeededGenerator(seed: seed)
    return ["x": Tensor(shape: [n, length, depth], floats: (0..<(n * length * depth)).map { _ in Float.random(in: -2...2, using: &g) })]
  }

  func productPlan(_ session: Session, calibration: [String: Tensor]) throws -> PrecisionPlan {
    var calibrator = Calibrator(session: session, products: true)
    try calibrator.observe(calibration)
    var plan = try PlanBuilder.uniform(session: session, calibrator: calibrator, precision: .fp32, model: "t", modelSHA256: "-")
    plan.activationProducts = try PlanBuilder.products(session: session, calibrator: calibrator)
    return plan
  }

  func testProductsAreTheMatMulsOfTwoActivationsAndNoLayers() {
    let g = Self.attentionModel()
    XCTAssertEqual(g.activationProducts.map(\.name), ["scores", "mix"])
    XCTAssertEqual(g.activationProducts.map { [$0.left, $0.right] }, [["q", "kt"], ["p", "x"]])
    XCTAssertEqual(g.layers.map(\.name), ["query", "key"])
  }

  /// The int32 sums on every instruction set the machine has equal Σ_k (l − z_l)·(r − 128)
  /// computed in Swift from the same codes, exactly: shapes of 1, odd sizes, depths off the
  /// packing block, the GEMV (≤ 4 rows) and the tiled path, and a broadcast batch.
  func testIntegerSumsEqualASwiftReferenceOnEveryISA() throws {
    let node = Node(name: "p", opType: "MatMul", inputs: ["a", "b"], outputs: ["y"])
    var g = SeededGenerator(seed: 17)
    for (m, k, n) in [(1, 1, 1), (3, 5, 7), (4, 33, 9), (37, 64, 40), (70, 19, 33)] {
      let aShape = [2, 3, m, k], bShape = [3, k, n]
      let a = Tensor(shape: aShape, floats: (0..<aShape.reduce(1, *)).map { _ in Float.random(in: -1...3, using: &g) })
      let b = Tensor(shape: bShape, floats: (0..<bShape.reduce(1, *)).map { _ in Float.random(in: -2...2, using: &g) })
      let left = ActivationParameters.covering(lo: -1, hi: 3, scheme: .asymmetric)
      let right = ActivationParameters.covering(lo: -1.5, hi: 1.5, scheme: .symmetric)  // some values saturate
      let ql = codes(a.floats, left), qr = codes(b.floats, right)
      var want = [Int64](repeating: 0, count: 6 * m * n)
      for batch in 0..<6 {
        let ia = batch * m * k, ib = (batch % 3) * k * n
        for i in 0..<m {
          for j in 0..<n {
            var s: Int32 = 0
            for kk in 0..<k { s += (Int32(ql[ia + i * k + kk]) - left.zero) * (Int32(qr[ib + kk * n + j]) - 128) }
            want[batch * m * n + i * n + j] = Int64(s)
          }
        }
      }
      for isa in KernelISA.available {
        let got = try QuantizedProduct.run(node, left: a, right: b, leftCodes: left, rightCodes: right, output: .int32, isa: isa)
        XCTAssertEqual(got.shape, [2, 3, m, n])
        guard case .int(let v) = got.storage else { return XCTFail("int32 sums expected") }
        XCTAssertEqual(v, want, "\(isa) m=\(m) k=\(k) n=\(n)")
      }
      // The float result is those sums times s_l·s_r.
      let y = try QuantizedProduct.run(node, left: a, right: b, leftCodes: left, rightCodes: right).floats
      for (got, sum) in zip(y, want) {
        let expected = Double(sum) * Double(left.scale) * Double(right.scale)
        XCTAssertEqual(Double(got), expected, accuracy: 1e-6 * max(1, abs(expected)))
      }
    }
  }

  /// The scalar quantizer's codes (the twin every ISA's quantizer is tested against).
  func codes(_ x: [Float], _ p: ActivationParameters) -> [UInt8] {
    var q = [UInt8](repeating: 0, count: x.count)
    x.withUnsafeBufferPointer { px in
      q.withUnsafeMutableBufferPointer { ActivationCodes.quantize(px.baseAddress!, count: x.count, scale: p.scale, zero: p.zero, into: $0.baseAddress!, isa: .scalar) }
    }
    return q
  }

  /// A plan with both products at INT8 runs them on the integer kernels: the output moves a
  /// little from FP32 and stays close; calibrated ranges cover what the products read.
  func testAPlanRunsBothProductsAtINT8() throws {
    let session = try Session(graph: Self.attentionModel())
    let plan = try productPlan(session, calibration: Self.inputs(8, length: 6, seed: 1))
    XCTAssertEqual(plan.activationProducts?.map(\.name), ["scores", "mix"])
    XCTAssertEqual(plan.activationProducts?.map(\.right.zero), [128, 128])
    XCTAssertNoThrow(try plan.validate())
    let runtime = try PlanBuilder.layerQuantizations(plan, session: session)
    XCTAssertEqual(Set(runtime.keys), ["scores", "mix"])
    let x = Self.inputs(4, length: 9, seed: 2)
    let fp32 = try session.run(x)["y"]!.floats, mixed = try session.with(quantized: runtime).run(x)["y"]!.floats
    XCTAssertNotEqual(mixed, fp32)
    let err = zip(mixed, fp32).map { abs($0 - $1) }.reduce(0, +) / Float(fp32.count)
    let scale = fp32.map(abs).reduce(0, +) / Float(fp32.count)
    XCTAssertLessThan(err, 0.02 * scale)
  }

  func testPlansWithBadProductsAreRefused() throws {
    let session = try Session(graph: Self.attentionModel())
    var plan = try productPlan(session, calibration: Self.inputs(4, length: 5, seed: 3))
    var asymmetricRight = plan
    asymmetricRight.activationProducts![0].right.zero = 100
    XCTAssertThrowsError(try asymmetricRight.validate())
    var half = plan
    half.activationProducts![0].precision = .fp16
    XCTAssertThrowsError(try half.validate())
    plan.activationProducts![1].name = "no_such_matmul"
    XCTAssertThrowsError(try PlanBuilder.layerQuantizations(plan, session: session)) { e in
      XCTAssertTrue("\(e)".contains("no_such_matmul"), "\(e)")
    }
  }

  /// ONNX Runtime runs the export (QuantizeLinear → DequantizeLinear on both inputs of each
  /// product) and computes what the mixed run computes, in float arithmetic.
  func testTheExportedProductsRunInONNXRuntime() throws {
    let root = QDQExportTests.root
    let session = try Session(graph: Self.attentionModel())
    let plan = try productPlan(session, calibration: Self.inputs(8, length: 6, seed: 1))
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("mixprec-products-\(UUID().uuidString)")
    let inputs = work.appendingPathComponent("inputs")
    try FileManager.default.createDirectory(at: inputs, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: work) }
    let x = Self.inputs(3, length: 7, seed: 4)
    try NPY.write(x["x"]!, to: inputs.appendingPathComponent("x.npy"))
    let model = work.appendingPathComponent("t.onnx"), out = work.appendingPathComponent("y.npy")
    try PlanBuilder.exportQDQ(plan, session: session, shapes: ["x": [1, 6, Self.depth]], to: model)
    let exported = try ONNXImporter.load(model)
    XCTAssertEqual(exported.nodes.filter { $0.opType == "QuantizeLinear" }.count, 4)
    let r = try ChildProcess.run(root.appendingPathComponent(".venv/bin/python").path,
      [root.appendingPathComponent("Calibration/ort_run.py").path, model.path, inputs.path, out.path], timeLimit: 300)
    XCTAssertEqual(r.status, 0, r.stderr.suffix(600).description)
    guard r.status == 0 else { return }
    let theirs = try NPY.read(out).floats
    let ours = try session.with(quantized: PlanBuilder.layerQuantizations(plan, session: session)).run(x)["y"]!.floats
    XCTAssertEqual(theirs.count, ours.count)
    // A value on a rounding tie may take the neighbouring code in one of them: one step of the
    // right input's grid, averaged over a row, stays far below 1e-3.
    for (a, b) in zip(ours, theirs) { XCTAssertEqual(a, b, accuracy: 1e-3) }
    let mean = zip(ours, theirs).map { abs($0 - $1) }.reduce(0, +) / Float(ours.count)
    XCTAssertLessThan(mean, 1e-4)
  }
}
