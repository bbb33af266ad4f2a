import Quantizers
import TensorCore
import XCTest

/// Quantization schemes: round trips within half a step, symmetric zero points, exact zero.
final class SchemeTests: XCTestCase {
  func testWeightRoundTripIsWithinHalfAStepPerRowAndGroup() {
    var g = SeededGenerator(seed: 4)
    let n = 5, k = 70
    let w = (0..<(n * k)).map { _ in Float.random(in: -3...3, using: &g) * (Float.random(in: 0...1, using: &g) < 0.1 ? 4 : 1) }
    for (bits, group) in [(8, nil), (4, nil), (4, 32)] as [(Int, Int?)] {
      let q = WeightQuantizer.quantize(w, n: n, k: k, bits: bits, group: group)
      let back = WeightQuantizer.dequantize(q.values, scales: q.scales, n: n, k: k, group: group)
      let gsize = group ?? k, groups = (k + gsize - 1) / gsize
      let qmax = WeightQuantizer.maxCode(bits: bits)
      for i in 0..<(n * k) {
        let s = q.scales[(i / k) * groups + (i % k) / gsize]
        XCTAssertLessThanOrEqual(abs(back[i] - w[i]), s / 2 * (1 + 1e-5), "int\(bits) group \(String(describing: group)) w[\(i)] = \(w[i])")
        XCTAssertLessThanOrEqual(abs(Int(q.values[i])), qmax)
      }
    }
  }

  /// Per-tensor: one scale, max|w| / q_max over the whole tensor, repeated per row; the largest
  /// weight takes the top code and every weight is within half a step.
  func testPerTensorWeightsShareOneScale() throws {
    var g = SeededGenerator(seed: 9)
    let n = 6, k = 20
    // Rows of very different ranges: what per-tensor scales lose to per-channel ones.
    let w = (0..<(n * k)).map { i in Float.random(in: -1...1, using: &g) * Float(1 << (i / k)) }
    for bits in [8, 4] {
      let q = WeightQuantizer.quantizePerTensor(w, n: n, k: k, bits: bits)
      let qmax = WeightQuantizer.maxCode(bits: bits)
      let top = try XCTUnwrap(w.map(abs).max())
      XCTAssertEqual(q.scales, [Float](repeating: top / Float(qmax), count: n))
      XCTAssertEqual(q.values.map { abs(Int($0)) }.max(), qmax)
      let back = WeightQuantizer.dequantize(q.values, scales: q.scales, n: n, k: k)
      for i in w.indices { XCTAssertLessThanOrEqual(abs(back[i] - w[i]), q.scales[0] / 2 * (1 + 1e-5)) }
      // Per channel is finer on every row but the widest.
      let perRow = WeightQuantizer.quantize(w, n: n, k: k, bits: bits)
      XCTAssertTrue(zip(perRow.scales, q.scales).allSatisfy { $0 <= $1 })
    }
    // A plan entry at granularity tensor gets the same codes, whatever the plan's other fields.
    var entry = LayerPlan(name: "fc", op: "MatMul", precision: .int8)
    entry.weightGranularity = .tensor
    XCTAssertEqual(PlanBuilder.nearestCodes(entry, rows: w, n: n, k: k).scales, WeightQuantizer.quantizePerTensor(w, n: n, k: k, bits: 8).scales)
    // Granularity and group go together: tensor or channel with a group, or group without one, is refused.
    let input = ActivationParameters(scale: 0.02, zero: 3)
    for (granularity, group) in [(WeightGranularity.tensor, 32), (.channel, 32), (.group, nil)] as [(WeightGranularity, Int?)] {
      var l = LayerPlan(name: "c", op: "Conv", precision: .int4, weightGroup: group, input: input)
      l.weightGranularity = granularity
      XCTAssertThrowsError(try PrecisionPlan(model: "m", modelSHA256: "-", layers: [l]).validate(), "\(granularity) \(String(describing: group))")
    }
  }

  func testSymmetricActivationsHaveZeroPoint128AndAsymmetricCodeZeroExactly() {
    let s = ActivationParameters.covering(lo: -1.5, hi: 3, scheme: .symmetric)
    XCTAssertEqual(s.zero, 128)  // int8 zero point 0, stored as uint8
    XCTAssertEqual(s.scale, 3 / 127)
    for (lo, hi) in [(-1.5, 3.0), (0.2, 5.0), (-4.0, -1.0)] as [(Float, Float)] {
      let a = ActivationParameters.covering(lo: lo, hi: hi, scheme: .asymmetric)
      // 0 is representable exactly (padding and ReLU zeros quantize without error).
      XCTAssertEqual(Float(0 - a.zero) * a.scale + Float(a.zero) * a.scale, 0)
      XCTAssertTrue((0...255).contains(a.zero))
      XCTAssertLessThanOrEqual(Float(-a.zero) * a.scale, min(lo, 0) + a.scale / 2)
      XCTAssertGreaterThanOrEqual(Float(255 - a.zero) * a.scale, max(hi, 0) - a.scale / 2)
    }
  }

  func testPlanJSONRoundTrips() throws {
    var plan = PrecisionPlan(model: "m.onnx", modelSHA256: "ab", layers: [
      LayerPlan(name: "conv", op: "Conv", precision: .int4, weightGroup: 32, rangeMethod: .mse,
        input: ActivationParameters(scale: 0.02, zero: 3)),
      LayerPlan(name: "fc", op: "Gemm", precision: .fp16),
    ])
    var perTensor = LayerPlan(name: "head", op: "MatMul", precision: .int8, input: ActivationParameters(scale: 0.1, zero: 0))
    perTensor.weightGranularity = .tensor
    plan.layers.append(perTensor)
    plan.measured = PlanFigures(metric: "top1", value: 0.9, reference: 0.95, weightBytes: 1234)
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("plan-\(UUID().uuidString).json")
    defer { try? FileManager.default.removeItem(at: url) }
    try plan.write(to: url)
    XCTAssertEqual(try PrecisionPlan.read(from: url), plan)
    try Data("{\"version\": 99}".utf8).write(to: url)
    XCTAssertThrowsError(try PrecisionPlan.read(from: url)) { XCTAssertTrue("\($0)".contains("not a mixprec plan"), "\($0)") }
  }
}
