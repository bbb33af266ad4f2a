import Kernels
import Execution
import Foundation
import TensorCore

/// Layer-output objectives on sampled input columns (group 0 of the layer): EasyQuant's cosine
/// search over weight and activation scales, and PACT-style learned clipping of the input.
public enum OutputMatching {
  /// y = W x for rows W (n × k, the group's rows) and columns X (count × k).
  public static func outputs(_ w: [Float], n: Int, k: Int, _ x: [Float], count: Int) -> [Float] {
    var y = [Float](repeating: 0, count: n * count)
    w.withUnsafeBufferPointer { a in x.withUnsafeBufferPointer { b in y.withUnsafeMutableBufferPointer { c in
      FloatGEMM.sgemm(transB: true, m: n, n: count, k: k, a: a.baseAddress!, lda: k, b: b.baseAddress!, ldb: k, c: c.baseAddress!, ldc: count)
    } } }
    return y
  }

  /// E·G for E (count × k) and symmetric G (k × k).
  static func times(_ e: [Float], _ g: [Float], count: Int, k: Int) -> [Float] {
    var out = [Float](repeating: 0, count: count * k)
    e.withUnsafeBufferPointer { a in g.withUnsafeBufferPointer { b in out.withUnsafeMutableBufferPointer { c in
      FloatGEMM.sgemm(m: count, n: k, k: k, a: a.baseAddress!, lda: k, b: b.baseAddress!, ldb: k, c: c.baseAddress!, ldc: k)
    } } }
    return out
  }

  /// x quantized to uint8 codes with `p` and back.
  public static func fakeQuantize(_ x: [Float], _ p: ActivationParameters) -> [Float] {
    x.map { v in
      let q = min(max((v / p.scale).rounded(.toNearestOrEven) + Float(p.zero), 0), 255)
      return (q - Float(p.zero)) * p.scale
    }
  }

  /// Cosine similarity (1 for two zero vectors).
  public static func cosine(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Double {
    var ab = 0.0, aa = 0.0, bb = 0.0
    for (u, v) in zip(a, b) {
      ab += Double(u) * Double(v)
      aa += Double(u) * Double(u)
      bb += Double(v) * Double(v)
    }
    return aa > 0 && bb > 0 ? ab / (aa * bb).squareRoot() : (aa == bb ? 1 : 0)
  }

  /// EasyQuant (Wu et al. 2020): alternately, per output channel, the weight scale α·s_w and then
  /// the activation scale β·s_a, each searched over `interval` in `steps`, that maximize the cosine
  /// similarity between the FP32 and the quantized layer output.
  /// - Returns: the weight scale multipliers (per row) and the activation parameters.
  public static func easyQuant(
    rows w: [Float], n: Int, k: Int, bits: Int, columns x: [Float], count: Int, input: ActivationParameters,
    interval: ClosedRange<Float> = 0.5...1.2, steps: Int = 50, rounds: Int = 2
  ) -> (weightFactors: [Float], input: ActivationParameters) {
    let reference = outputs(w, n: n, k: k, x, count: count)
    let base = WeightQuantizer.quantize(w, n: n, k: k, bits: bits).scales
    let qmax = Float(WeightQuantizer.maxCode(bits: bits))
    var factors = [Float](repeating: 1, count: n)
    var act = input
    // The grid plus 1 itself, so the result is never worse than the starting scales.
    let candidates = [1] + (0...steps).map { interval.lowerBound + (interval.upperBound - interval.lowerBound) * Float($0) / Float(steps) }
    func quantizedRow(_ o: Int, _ f: Float) -> [Float] {
      let s = base[o] * f
      return (0..<k).map { c in min(max((w[o * k + c] / s).rounded(.toNearestOrEven), -qmax), qmax) * s }
    }
    for _ in 0..<rounds {
      let xq = fakeQuantize(x, act)
      for o in 0..<n {
        var best = factors[o], bestCos = -2.0
        for f in candidates {
          let y = outputs(quantizedRow(o, f), n: 1, k: k, xq, count: count)
          let c = cosine(reference[(o * count)..<((o + 1) * count)], y[...])
          if c > bestCos { bestCos = c; best = f }
        }
        factors[o] = best
      }
      var wq: [Float] = []
      for o in 0..<n { wq += quantizedRow(o, factors[o]) }
      var bestAct = act, bestCos = -2.0
      for f in candidates {
        let p = ActivationParameters(scale: input.scale * f, zero: input.zero)
        let y = outputs(wq, n: n, k: k, fakeQuantize(x, p), count: count)
        let c = cosine(reference[...], y[...])
        if c > bestCos { bestCos = c; bestAct = p }
      }
      act = bestAct
    }
    return (factors, act)
  }

  /// PACT-style clipping after training: learns the input range [a, b] of a layer by gradient
  /// descent on ‖W (x − q_{a,b}(x))‖² with the straight-through estimator for rounding
  /// (∂q/∂b = 1 above b, (round(u) − u)/255 inside; symmetrically for a).
  public static func learnedClip(
    rows w: [Float], n: Int, k: Int, columns x: [Float], count: Int, start: ActivationParameters,
    iterations: Int = 150, learningRate: Float = 0.01
  ) -> (input: ActivationParameters, loss: Double, startLoss: Double) {
    // G = WᵀW (k × k): the loss's quadratic form on input errors.
    var gram = [Float](repeating: 0, count: k * k)
    w.withUnsafeBufferPointer { a in gram.withUnsafeMutableBufferPointer { c in
      FloatGEMM.sgemm(transA: true, m: k, n: k, k: n, a: a.baseAddress!, lda: k, b: a.baseAddress!, ldb: k, c: c.baseAddress!, ldc: k)
    } }
    var a = -Float(start.zero) * start.scale, b = Float(255 - start.zero) * start.scale
    let span0 = max(b - a, 1e-6)
    func loss(_ lo: Float, _ hi: Float) -> (Double, [Float], [Float]) {
      let s = max(hi - lo, 1e-8) / 255
      var err = [Float](repeating: 0, count: x.count)
      var du = [Float](repeating: 0, count: x.count)  // (round(u) − u) inside, 0 outside
      for i in x.indices {
        let v = x[i]
        if v < lo { err[i] = v - lo } else if v > hi { err[i] = v - hi } else {
          let u = (v - lo) / s
          let r = u.rounded(.toNearestOrEven)
          err[i] = v - (lo + r * s)
          du[i] = r - u
        }
      }
      let ge = times(err, gram, count: count, k: k)
      var l = 0.0
      for i in err.indices { l += Double(err[i] * ge[i]) }
      return (l, err, du)
    }
    let startLoss = loss(a, b).0
    var best = (a, b, startLoss)
    var ma: Float = 0, va: Float = 0, mb: Float = 0, vb: Float = 0
    for t in 1...iterations {
      let (l, err, du) = loss(a, b)
      if l < best.2 { best = (a, b, l) }
      // dL/dq = −2 G e per column; chain through ∂q/∂a, ∂q/∂b.
      let ge = times(err, gram, count: count, k: k)
      var ga: Float = 0, gb: Float = 0
      for i in x.indices {
        let dq = -2 * ge[i], v = x[i]
        if v < a { ga += dq } else if v > b { gb += dq } else {
          gb += dq * du[i] / 255
          ga -= dq * du[i] / 255
        }
      }
      // Adam on (a, b), steps relative to the starting span.
      ma = 0.9 * ma + 0.1 * ga; va = 0.999 * va + 0.001 * ga * ga
      mb = 0.9 * mb + 0.1 * gb; vb = 0.999 * vb + 0.001 * gb * gb
      let c1 = 1 - pow(0.9, Float(t)), c2 = 1 - pow(0.999, Float(t))
      a -= learningRate * span0 * (ma / c1) / ((va / c2).squareRoot() + 1e-12)
      b -= learningRate * span0 * (mb / c1) / ((vb / c2).squareRoot() + 1e-12)
      a = min(a, 0)
      b = max(b, a + 1e-6, 0)
    }
    let (lo, hi, l) = best
    return (ActivationParameters.covering(lo: lo, hi: hi, scheme: .asymmetric), l, startLoss)
  }
}

