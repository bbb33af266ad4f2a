import GraphIR
import Kernels
import TensorCore

/// BatchNormalization (inference form), LayerNormalization and InstanceNormalization.
public enum NormalizationOps {
  static let kernels: [String: OpKernel] = [
    "BatchNormalization": { node, inputs, _ in [try batchNorm(node, inputs)] },
    "LayerNormalization": { node, inputs, _ in try layerNorm(node, inputs) },
    "InstanceNormalization": { node, inputs, _ in [try instanceNorm(node, inputs)] },
  ]

  /// y = (x − μ[c]) / sqrt(σ²[c] + ε) · γ[c] + β[c] over channel axis 1.
  static func batchNorm(_ node: Node, _ inputs: [Tensor?]) throws -> Tensor {
    if node.int("training_mode", default: 0) != 0 { throw opError(node, "training_mode=1 is not supported (inference only)") }
    let x = try inputs.required(0, node)
    let params = try (1...4).map { try inputs.required($0, node).asFloats() }
    guard x.rank >= 2 else { throw opError(node, "input rank must be ≥ 2, got \(x.shape)") }
    let c = x.shape[1], inner = x.shape.dropFirst(2).reduce(1, *), n = x.shape[0]
    guard params.allSatisfy({ $0.count == c }) else { throw opError(node, "parameters must hold \(c) values each") }
    let eps = node.float("epsilon", default: 1e-5)
    let k = (0..<c).map { params[0][$0] / (params[3][$0] + eps).squareRoot() }
    let shift = (0..<c).map { params[1][$0] - params[2][$0] * k[$0] }
    var v = try x.floatValues(node)
    v.withUnsafeMutableBufferPointer { p in
      for b in 0..<n { for ch in 0..<c {
        let base = (b * c + ch) * inner, a = k[ch], s = shift[ch]
        for i in 0..<inner { p[base + i] = p[base + i] * a + s }
      } }
    }
    return Tensor(dtype: x.dtype, shape: x.shape, storage: .float(v))
  }

  /// Normalizes over dims `axis...`; optional outputs Mean and InvStdDev have those dims set to 1.
  static func layerNorm(_ node: Node, _ inputs: [Tensor?]) throws -> [Tensor] {
    let x = try inputs.required(0, node)
    guard let axis = ShapeMath.axis(node.int("axis", default: -1), rank: x.rank) else {
      throw opError(node, "axis out of range for \(x.shape)")
    }
    let eps = node.float("epsilon", default: 1e-5)
    let inner = x.shape[axis...].reduce(1, *), outer = x.shape[..<axis].reduce(1, *)
    let normShape = Array(x.shape[axis...])
    let scale = try inputs.required(1, node), bias = inputs.optional(2)
    let si = Broadcast.indices(scale.shape, to: normShape), sv = scale.asFloats()
    let bi = bias.map { Broadcast.indices($0.shape, to: normShape) }, bv = bias?.asFloats()
    let v = try x.floatValues(node)
    let (means, invs) = layerNormStatistics(v, outer: outer, inner: inner, epsilon: eps)
    // γ and β spread over the normalized dims once, then one pass per row, rows in parallel,
    // into a new buffer (the kernel stores every element; the input is not copied first).
    let gamma = (0..<inner).map { sv[si[$0]] }, beta = bv.flatMap { b in bi.map { i in (0..<inner).map { b[i[$0]] } } }
    var y = outer * inner > 0 ? [Float](uninitializedForKernels: v.count) : v
    if outer * inner > 0 {
    v.withUnsafeBufferPointer { pv in y.withUnsafeMutableBufferPointer { py in
      gamma.withUnsafeBufferPointer { pg in
        (beta ?? []).withUnsafeBufferPointer { pb in
          means.withUnsafeBufferPointer { pm in invs.withUnsafeBufferPointer { pi in
            let src = pv.baseAddress!, dst = py.baseAddress!, g = pg.baseAddress!, b = beta == nil ? nil : pb.baseAddress
            let m = pm.baseAddress!, s = pi.baseAddress!
            Parallel.forEachRange(outer, costPerItem: inner * 2) { rows in
              FloatKernels.normalizeRows(src + rows.lowerBound * inner, into: dst + rows.lowerBound * inner, rows: rows.count,
                length: inner, means: m + rows.lowerBound, invs: s + rows.lowerBound, gamma: g, beta: b)
            }
          } }
        }
      }
    } }
    }
    let statShape = Array(x.shape[..<axis]) + [Int](repeating: 1, count: x.rank - axis)
    return [Tensor(dtype: x.dtype, shape: x.shape, storage: .float(y)),
            Tensor(shape: statShape, floats: means), Tensor(shape: statShape, floats: invs)]
  }

  /// Mean and 1/√(variance + ε) of each of `outer` rows of `inner` values (LayerNormalization's
  /// statistics; the gradients use the same ones).
  public static func layerNormStatistics(_ v: [Float], outer: Int, inner: Int, epsilon eps: Float) -> (means: [Float], invs: [Float]) {
    var means = [Float](repeating: 0, count: outer), invs = [Float](repeating: 0, count: outer)
    v.withUnsafeBufferPointer { pv in means.withUnsafeMutableBufferPointer { pm in invs.withUnsafeMutableBufferPointer { pi in
      let x = pv.baseAddress, m = pm.baseAddress, s = pi.baseAddress
      Parallel.forEachRange(outer, costPerItem: inner * 2) { rows in
        guard let x, let m, let s else { return }
        FloatKernels.rowMoments(x + rows.lowerBound * inner, rows: rows.count, length: inner, epsilon: eps,
          means: m + rows.lowerBound, invs: s + rows.lowerBound)
      }
    } } }
    return (means, invs)
  }

  /// Per sample and channel: y = (x − mean) / sqrt(var + ε) · γ[c] + β[c].
  static func instanceNorm(_ node: Node, _ inputs: [Tensor?]) throws -> Tensor {
    let x = try inputs.required(0, node)
    let g = try inputs.required(1, node).asFloats(), b = try inputs.required(2, node).asFloats()
    guard x.rank >= 3, g.count == x.shape[1], b.count == x.shape[1] else {
      throw opError(node, "input \(x.shape) needs rank ≥ 3 and \(x.shape.count > 1 ? x.shape[1] : 0) scale/bias values")
    }
    let eps = node.float("epsilon", default: 1e-5)
    let c = x.shape[1], inner = x.shape.dropFirst(2).reduce(1, *)
    var v = try x.floatValues(node)
    for item in 0..<(x.shape[0] * c) {
      let base = item * inner, ch = item % c
      var mean: Float = 0
      for i in 0..<inner { mean += v[base + i] }
      mean /= Float(Swift.max(inner, 1))
      var variance: Float = 0
      for i in 0..<inner { let d = v[base + i] - mean; variance += d * d }
      variance /= Float(Swift.max(inner, 1))
      let k = g[ch] / (variance + eps).squareRoot()
      for i in 0..<inner { v[base + i] = (v[base + i] - mean) * k + b[ch] }
    }
    return Tensor(dtype: x.dtype, shape: x.shape, storage: .float(v))
  }
}
