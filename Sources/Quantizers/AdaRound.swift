import Kernels
import Execution
import Foundation
import TensorCore

/// AdaRound (Nagel et al. 2020): per weight, round up or down so as to minimize the layer's
/// reconstruction error on calibration inputs, instead of rounding to nearest.
///
///     W̃ = s · clamp(⌊W/s⌋ + h(V), −q_max, q_max),   h(V) = clip(σ(V)·(ζ − γ) + γ, 0, 1)
///     L(V) = ‖(W − W̃) X‖² / ‖W X‖²  +  λ Σ (1 − |2h(V) − 1|^β)
///
/// with ζ = 1.1, γ = −0.1, β annealed from 20 to 2 after a warm-up without the regularizer, and
/// ‖ΔW X‖² = tr(ΔW A ΔWᵀ) through the input Gram matrix A = X Xᵀ (so an iteration costs one
/// n×k×k product, whatever the number of calibration columns). Adam on V.
public enum AdaRound {
  public struct Options: Sendable {
    public var iterations = 600
    public var learningRate: Float = 0.01
    public var lambda: Float = 0.01
    public var warmup: Float = 0.2
    public init() {}
  }

  static let zeta: Float = 1.1, gamma: Float = -0.1

  /// Rounded codes for rows W (n × k) with `scales` (n × groups), minimizing the error on inputs
  /// whose Gram matrix is `gram` (k × k). Returns nearest rounding's codes when AdaRound does
  /// not beat them, so the result is never worse than nearest on this objective.
  public static func codes(
    rows w: [Float], n: Int, k: Int, bits: Int, scales: [Float], group: Int?, gram: [Float], options: Options = Options()
  ) -> (codes: [Int8], error: Double, nearestError: Double) {
    let g = group ?? k, groups = (k + g - 1) / g
    let qmax = Float(WeightQuantizer.maxCode(bits: bits))
    func scale(_ i: Int) -> Float { scales[(i / k) * groups + (i % k) / g] }
    let nearest = (0..<(n * k)).map { i in Int8(max(-qmax, min(qmax, (w[i] / scale(i)).rounded(.toNearestOrEven)))) }
    let reference = reconstruction(w, n: n, k: k, gram: gram, delta: { w[$0] }) + 1e-30
    func error(_ codes: [Int8]) -> Double {
      reconstruction(w, n: n, k: k, gram: gram) { i in w[i] - scale(i) * Float(codes[i]) } / reference
    }
    let nearestError = error(nearest)
    // Inputs that never reach this layer (a zero Gram matrix) leave nothing to optimize.
    guard reference > 1e-20, nearestError.isFinite else { return (nearest, nearestError, nearestError) }
    // V starts where h(V) equals the fractional part (the soft weight equals W).
    var floorW = [Float](repeating: 0, count: n * k), v = [Float](repeating: 0, count: n * k)
    for i in 0..<(n * k) {
      let x = w[i] / scale(i)
      floorW[i] = x.rounded(.down)
      let rest = min(max(x - floorW[i], 0.01), 0.99)
      v[i] = -log((zeta - gamma) / (rest - gamma) - 1)
    }
    var m = [Float](repeating: 0, count: n * k), s2 = [Float](repeating: 0, count: n * k)
    var delta = [Float](repeating: 0, count: n * k), grad = [Float](repeating: 0, count: n * k)
    // Each weight's scale, once: the element loops then have no index arithmetic and vectorize.
    let elementScale = (0..<(n * k)).map(scale)
    let warm = Int(Float(options.iterations) * options.warmup)
    let norm = Float(reference)
    // A is the same every iteration: packed once for the GEMM, which then runs on every core.
    let packedGram = gram.withUnsafeBufferPointer { FloatColumnPanels(columns: k, depth: k, $0.baseAddress!, depthStride: k, columnStride: 1) }
    let chunk = 4096, chunks = (n * k + chunk - 1) / chunk
    let count = n * k
    w.withUnsafeBufferPointer { pw in floorW.withUnsafeBufferPointer { pf in elementScale.withUnsafeBufferPointer { psc in
    v.withUnsafeMutableBufferPointer { pv in m.withUnsafeMutableBufferPointer { pm in s2.withUnsafeMutableBufferPointer { ps in
    delta.withUnsafeMutableBufferPointer { pd in grad.withUnsafeMutableBufferPointer { pg in
      let w = pw.baseAddress!, floorW = pf.baseAddress!, sc = psc.baseAddress!
      let v = pv.baseAddress!, m = pm.baseAddress!, s2 = ps.baseAddress!, d = pd.baseAddress!, gr = pg.baseAddress!
      for it in 0..<options.iterations {
        // ΔW for the soft rounding.
        Parallel.forEach(chunks, costPerItem: chunk * 8) { c in
          let i = c * chunk
          AdaRoundKernels.softDelta(w: w + i, floorW: floorW + i, scales: sc + i, v: v + i, delta: d + i, count: min(chunk, count - i), qmax: qmax)
        }
        // ∂‖ΔW X‖²/∂W̃ = −2 ΔW A.
        let rows = FloatRowPanels(rows: n, depth: k, d, rowStride: k, depthStride: 1)
        FloatGEMM.run(rows: rows, columns: .packed(packedGram), count: k, output: gr, rowStride: k, columnStride: 1,
          epilogue: FloatEpilogue(alpha: -2 / norm))
        let progress = it < warm ? 0 : Float(it - warm) / Float(max(options.iterations - warm, 1))
        let beta = 20 - 18 * progress, lambda = it < warm ? 0 : options.lambda
        let firstMoment = 1 - pow(Float(0.9), Float(it + 1)), secondMoment = 1 - pow(Float(0.999), Float(it + 1))
        Parallel.forEach(chunks, costPerItem: chunk * 40) { c in
          let i = c * chunk
          AdaRoundKernels.adamStep(gradient: gr + i, scales: sc + i, v: v + i, m: m + i, s2: s2 + i, count: min(chunk, count - i),
            beta: beta, lambda: lambda, rate: options.learningRate, firstMoment: firstMoment, secondMoment: secondMoment)
        }
      }
    } } } } } } } }
    guard v.allSatisfy(\.isFinite) else { return (nearest, nearestError, nearestError) }
    var codes = [Int8](repeating: 0, count: n * k)
    for i in 0..<(n * k) { codes[i] = Int8(min(max(floorW[i] + (soft(v[i]) >= 0.5 ? 1 : 0), -qmax), qmax)) }
    let adaError = error(codes)
    return adaError <= nearestError ? (codes, adaError, nearestError) : (nearest, nearestError, nearestError)
  }

  /// h(v), as the kernels compute it (their exp), so the final codes round the optimized h.
  static func soft(_ v: Float) -> Float { min(max((1 / (1 + AdaRoundKernels.exp(-v))) * (zeta - gamma) + gamma, 0), 1) }

  /// tr(Δ A Δᵀ) for Δ[i] = delta(i) (n × k).
  static func reconstruction(_ w: [Float], n: Int, k: Int, gram: [Float], delta: (Int) -> Float) -> Double {
    let d = (0..<(n * k)).map(delta)
    var da = [Float](repeating: 0, count: n * k)
    d.withUnsafeBufferPointer { dp in gram.withUnsafeBufferPointer { a in da.withUnsafeMutableBufferPointer { c in
      FloatGEMM.sgemm(m: n, n: k, k: k, a: dp.baseAddress!, lda: k, b: a.baseAddress!, ldb: k, c: c.baseAddress!, ldc: k)
    } } }
    var s = 0.0
    for i in 0..<(n * k) { s += Double(da[i]) * Double(d[i]) }
    return s
  }
}
