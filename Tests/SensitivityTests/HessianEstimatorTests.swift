import Findings
import Execution
import Foundation
import Gradients
import GraphIR
import Sensitivity
import TensorCore
import XCTest

/// Hutchinson and Lanczos against the explicit Hessian of a small model, repeatability, and the
/// proxies' rank correlation.
final class HessianEstimatorTests: XCTestCase {
  static func random(_ shape: [Int], seed: UInt64, scale: Float = 0.5) -> Tensor {
    var g = SeededGenerator(seed: seed)
    return Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -scale...scale, using: &g) })
  }

  /// Conv (3×3) → Relu → Conv (1×1) → Flatten → Gemm → Softmax; 54 + 12 + 160 weights.
  static func model() throws -> CurvatureModel {
    let graph = Graph(
      nodes: [
        Node(name: "c1", opType: "Conv", inputs: ["x", "w1"], outputs: ["a"], attributes: ["strides": .ints([2, 2])]),
        Node(name: "r", opType: "Relu", inputs: ["a"], outputs: ["ar"], attributes: [:]),
        Node(name: "c2", opType: "Conv", inputs: ["ar", "w2"], outputs: ["b"], attributes: [:]),
        Node(name: "fl", opType: "Flatten", inputs: ["b"], outputs: ["f"], attributes: [:]),
        Node(name: "fc", opType: "Gemm", inputs: ["f", "w3"], outputs: ["z"], attributes: ["transB": .int(1)]),
        Node(name: "sm", opType: "Softmax", inputs: ["z"], outputs: ["p"], attributes: ["axis": .int(-1)]),
      ],
      inputs: [ValueInfo(name: "x", dtype: .float32, shape: [nil, 2, 7, 7])], outputs: [ValueInfo(name: "p", dtype: .float32, shape: [nil, 4])],
      initializers: ["w1": random([3, 2, 3, 3], seed: 1, scale: 0.8), "w2": random([4, 3, 1, 1], seed: 2, scale: 1),
                     "w3": random([4, 36], seed: 3, scale: 0.8)],
      opset: 13)
    return try CurvatureModel(session: Session(graph: graph), feeds: ["x": random([16, 2, 7, 7], seed: 4, scale: 2)], batch: 8)
  }

  /// Column j of each layer's block: H·eⱼ.
  static func explicitBlock(_ model: CurvatureModel, weight: String) throws -> [Double] {
    let w = model.weights[weight]!
    let n = w.count
    let h = 1e-3 * (w.floats.reduce(0) { $0 + $1 * $1 } / Float(n)).squareRoot()
    var block = [Double](repeating: 0, count: n * n)
    for j in 0..<n {
      var e = [Float](repeating: 0, count: n)
      e[j] = 1
      let col = try model.hessianProduct([weight: e], step: h)[weight]!
      for i in 0..<n { block[i * n + j] = Double(col[i]) }
    }
    // Symmetrize (the finite-difference columns are symmetric only to rounding).
    for i in 0..<n { for j in 0..<i { let m = (block[i * n + j] + block[j * n + i]) / 2; block[i * n + j] = m; block[j * n + i] = m } }
    return block
  }

  func testHutchinsonTraceLiesWithinItsIntervalOfTheExactTrace() throws {
    let model = try Self.model()
    for method in [HessianEstimator.TraceMethod.outputSide, .weightSide] {
      var e = HessianEstimator(seed: 5)
      e.traceMethod = method
      e.minIterations = 200
      e.maxIterations = 200
      let traces = try e.traces(model)
      for l in model.layers {
        let n = model.weights[l.weight]!.count
        let block = try Self.explicitBlock(model, weight: l.weight)
        let exact = (0..<n).reduce(0.0) { $0 + block[$1 * n + $1] }
        let t = traces[l.name]!
        XCTAssertEqual(t.samples, 200)
        XCTAssertGreaterThan(exact, 0)
        // A 95% interval: allow the 1-in-20 miss some slack (1.5× the half-width).
        XCTAssertLessThan(abs(t.mean - exact), 1.5 * t.ci95, "\(method) \(l.name): \(t.mean) ± \(t.ci95) vs exact \(exact)")
        XCTAssertLessThan(t.ci95, exact, "\(method) \(l.name): interval narrower than the trace")
      }
    }
  }

  func testLanczosTopEigenvalueMatchesGSLOnTheExplicitBlock() throws {
    let model = try Self.model()
    var e = HessianEstimator(seed: 6)
    e.lanczosSteps = 30
    let top = try e.topEigenvalues(model)
    for l in model.layers {
      let n = model.weights[l.weight]!.count
      var block = try Self.explicitBlock(model, weight: l.weight)
      let exact = try HessianEstimator.symmetricEigenvalues(&block, n).max()!
      XCTAssertEqual(top[l.name]!, exact, accuracy: 1e-2 * exact, "\(l.name) (\(n) weights)")
    }
  }

  func testSeededRunsAreBitIdentical() throws {
    let model = try Self.model()
    var e = HessianEstimator(seed: 9)
    e.maxIterations = 12
    let a = try e.traces(model), b = try e.traces(model)
    XCTAssertEqual(a, b)
    XCTAssertEqual(try e.topEigenvalues(model), try e.topEigenvalues(model))
    var other = e
    other.seed = 10
    XCTAssertNotEqual(try other.traces(model), a)
  }

  func testSpearmanOnKnownRankings() {
    XCTAssertEqual(ProxyScores.spearman([1, 2, 3, 4], [10, 20, 30, 400]), 1, accuracy: 1e-12)
    XCTAssertEqual(ProxyScores.spearman([1, 2, 3, 4], [4, 3, 2, 1]), -1, accuracy: 1e-12)
    // Ranks (1, 2, 3, 4) vs (2, 1, 4, 3): 1 − 6·Σd²/(n(n²−1)) = 1 − 6·4/60 = 0.6.
    XCTAssertEqual(ProxyScores.spearman([1, 2, 3, 4], [2, 1, 4, 3]), 0.6, accuracy: 1e-12)
    XCTAssertTrue(ProxyScores.spearman([1, 2], [1, 2]).isNaN)
  }

  func testAnalysisWithHessianRoundTripsAndMergeRecorrelates() throws {
    func layer(_ i: Int, damage: Double, score: Double) -> AnalysisResult.Layer {
      var l = AnalysisResult.Layer(index: i, name: "l\(i)", op: "Conv", params: 10,
        sensitivity: ["int4": AnalysisResult.Entry(OutputComparison(damage: damage, sqnr: 10, cosine: 0.9, agreement: 1))])
      l.hessian = AnalysisResult.Hessian(trace: score, ci95: 0.1, samples: 8, topEigenvalue: score / 2, score: ["int4": score])
      return l
    }
    var a = AnalysisResult(model: "m", modelSHA256: "x", candidates: ["int4"], samples: 4, layers: [layer(0, damage: 1, score: 1), layer(2, damage: 3, score: 3)])
    var b = a
    b.layers = [layer(1, damage: 2, score: 2.5), layer(3, damage: 4, score: 0.5)]
    a.shard = "1/2"
    b.shard = "2/2"
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("analysis-\(UUID()).json")
    try a.write(to: url)
    XCTAssertEqual(try AnalysisResult.read(from: url), a)
    let text = try String(contentsOf: url, encoding: .utf8)
    XCTAssertTrue(text.contains("\"top_eigenvalue\""))
    let merged = try AnalysisResult.merge([a, b])
    XCTAssertEqual(merged.layers.map(\.index), [0, 1, 2, 3])
    // Scores 1, 2.5, 3, 0.5 vs KL 1, 2, 3, 4: ranks (2, 3, 4, 1) vs (1, 2, 3, 4) → 1 − 6·12/60 = −0.2.
    let c = merged.correlations!.first { $0.proxy == "hessian_score" }!
    XCTAssertEqual(c.spearman, -0.2, accuracy: 1e-12)
    XCTAssertEqual(c.layers, 4)
  }
}
