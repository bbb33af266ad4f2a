import Foundation
import Execution
import Kernels
import GraphIR
import TensorCore

/// Gradients of the ops that mix values along axes: Softmax/LogSoftmax, LayerNormalization,
/// ReduceMean/ReduceSum and the pools.
enum NormalizationVJPs {
  static let rules: [String: VJP] = [
    "Softmax": { c in try softmax(c, log: false) },
    "LogSoftmax": { c in try softmax(c, log: true) },
    "LayerNormalization": { c in try layerNorm(c) },
    "ReduceMean": { c in try reduce(c, mean: true) },
    "ReduceSum": { c in try reduce(c, mean: false) },
    "GlobalAveragePool": { c in
      let xs = c.shape(0), inner = xs.dropFirst(2).reduce(1, *)
      let g = c.grad
      var dx = [Float](repeating: 0, count: xs.reduce(1, *))
      for item in 0..<g.count { let v = g[item] / Float(max(inner, 1)); for i in 0..<inner { dx[item * inner + i] = v } }
      return [dx]
    },
    "GlobalMaxPool": { c in
      let x = try c.floats(0), xs = c.shape(0), inner = xs.dropFirst(2).reduce(1, *)
      let g = c.grad
      var dx = [Float](repeating: 0, count: x.count)
      for item in 0..<g.count {
        var best = item * inner
        for i in 0..<inner where x[item * inner + i] > x[best] { best = item * inner + i }
        dx[best] += g[item]
      }
      return [dx]
    },
    "BatchNormalization": { c in try batchNorm(c) },
    "AveragePool": { c in try pool(c, max: false) },
    "MaxPool": { c in try pool(c, max: true) },
  ]

  /// Inference BatchNormalization, y = (x − mean)·k + bias with k = scale/√(var + ε) per channel:
  /// dx = dy·k, dscale = Σ dy·(x − mean)/√(var + ε), dbias = Σ dy (mean and var are statistics:
  /// no gradient).
  static func batchNorm(_ c: VJPContext) throws -> [[Float]?] {
    let x = try c.floats(0), scale = try c.floats(1), mean = try c.floats(3), variance = try c.floats(4)
    let xs = c.shape(0), channels = xs.count > 1 ? xs[1] : 1, inner = xs.dropFirst(2).reduce(1, *), n = xs.first ?? 0
    let eps = c.node.float("epsilon", default: 1e-5)
    let inv = (0..<channels).map { 1 / (variance[$0] + eps).squareRoot() }
    let g = c.grad
    var dx = [Float](repeating: 0, count: c.need(0) ? x.count : 0)
    var dscale = [Float](repeating: 0, count: channels), dbias = [Float](repeating: 0, count: channels)
    for b in 0..<n {
      for ch in 0..<channels {
        let base = (b * channels + ch) * inner, k = scale[ch] * inv[ch]
        var sg: Float = 0, sgx: Float = 0
        for i in base..<(base + inner) {
          if !dx.isEmpty { dx[i] = g[i] * k }
          sg += g[i]
          sgx += g[i] * (x[i] - mean[ch]) * inv[ch]
        }
        dscale[ch] += sgx
        dbias[ch] += sg
      }
    }
    return [c.need(0) ? dx : nil, c.need(1) ? dscale : nil, c.need(2) ? dbias : nil, nil, nil]
  }

  /// (outer, length, inner) view of a Softmax along its axis (coerced to 2-D before opset 13).
  static func softmaxView(_ c: VJPContext) throws -> (outer: Int, length: Int, inner: Int) {
    let s = c.shape(0), r = s.count
    guard let axis = ShapeMath.axis(c.node.int("axis", default: c.opset < 13 ? 1 : -1), rank: r) else {
      throw c.unsupported("for an axis out of range")
    }
    if c.opset < 13 { return (s[..<axis].reduce(1, *), s[axis...].reduce(1, *), 1) }
    return (s[..<axis].reduce(1, *), r == 0 ? 1 : s[axis], s[(axis + 1)...].reduce(1, *))
  }

  /// Softmax: dx = y ⊙ (dy − Σ dy⊙y);  LogSoftmax: dx = dy − softmax(x)·Σ dy.
  static func softmax(_ c: VJPContext, log: Bool) throws -> [[Float]?] {
    let (outer, length, inner) = try softmaxView(c)
    guard case .float(let y) = c.outputs[0].storage else { throw c.unsupported("for a non-floating output") }
    let g = c.grad
    var dx = [Float](repeating: 0, count: y.count)
    for a in 0..<outer {
      for i in 0..<inner {
        let base = a * length * inner + i
        var s: Float = 0
        for k in 0..<length { let j = base + k * inner; s += log ? g[j] : g[j] * y[j] }
        for k in 0..<length {
          let j = base + k * inner
          dx[j] = log ? g[j] - expf(y[j]) * s : y[j] * (g[j] - s)
        }
      }
    }
    return [dx]
  }

  /// y = x̂·γ + β with x̂ = (x − μ)/σ over dims `axis...`:
  ///
  ///     dγ = Σ dy·x̂    dβ = Σ dy    dx = (1/σ)·(d − mean(d) − x̂·mean(d·x̂)),  d = dy·γ
  static func layerNorm(_ c: VJPContext) throws -> [[Float]?] {
    let x = try c.floats(0), xs = c.shape(0)
    guard let axis = ShapeMath.axis(c.node.int("axis", default: -1), rank: xs.count) else { throw c.unsupported("for an axis out of range") }
    let eps = c.node.float("epsilon", default: 1e-5)
    let inner = xs[axis...].reduce(1, *), outer = xs[..<axis].reduce(1, *)
    let normShape = Array(xs[axis...])
    let scale = try c.floats(1), scaleShape = c.shape(1)
    let gamma = broadcasted(scale, scaleShape, to: normShape)
    let g = c.grad
    var dx = [Float](repeating: 0, count: x.count)
    var dGamma = [Float](repeating: 0, count: inner), dBeta = dGamma
    let (means, invs) = NormalizationOps.layerNormStatistics(x, outer: outer, inner: inner, epsilon: eps)
    for o in 0..<outer {
      let base = o * inner, mean = means[o], inv = invs[o]
      var meanD: Float = 0, meanDX: Float = 0
      for i in 0..<inner {
        let xh = (x[base + i] - mean) * inv, d = g[base + i] * gamma[i]
        meanD += d
        meanDX += d * xh
        dGamma[i] += g[base + i] * xh
        dBeta[i] += g[base + i]
      }
      meanD /= Float(inner)
      meanDX /= Float(inner)
      for i in 0..<inner {
        let xh = (x[base + i] - mean) * inv
        dx[base + i] = inv * (g[base + i] * gamma[i] - meanD - xh * meanDX)
      }
    }
    let biasShape = c.inputs.count > 2 ? c.inputs[2]?.shape : nil
    return [c.need(0) ? dx : nil, c.need(1) ? unbroadcast(dGamma, from: normShape, to: scaleShape) : nil,
            c.need(2) ? biasShape.map { unbroadcast(dBeta, from: normShape, to: $0) } : nil]
  }

  /// ReduceSum/ReduceMean: every input element receives its output's cotangent (÷ count for mean).
  static func reduce(_ c: VJPContext, mean: Bool) throws -> [[Float]?] {
    let xs = c.shape(0), r = xs.count
    let axesFromInput = c.opset >= (c.node.opType == "ReduceSum" ? 13 : 18)
    let raw = axesFromInput ? (c.inputs.count > 1 ? c.inputs[1]?.asInts().map { Int($0) } : nil) : c.node.ints("axes")
    var axes = Set<Int>()
    if let raw, !raw.isEmpty {
      for a in raw { if let v = ShapeMath.axis(a, rank: r) { axes.insert(v) } }
    } else if c.node.int("noop_with_empty_axes", default: 0) != 0 {
      return [c.grad]
    } else {
      axes = Set(0..<r)
    }
    let kept = (0..<r).map { axes.contains($0) ? 1 : xs[$0] }
    let outStrides = ShapeMath.strides(kept)
    let target = StridedIndex.indices(shape: xs, strides: (0..<r).map { axes.contains($0) ? 0 : outStrides[$0] }, offset: 0)
    let count = xs.reduce(1, *) / max(kept.reduce(1, *), 1)
    let g = c.grad, k: Float = mean ? 1 / Float(max(count, 1)) : 1
    return [target.map { g[$0] * k }] + [[Float]?](repeating: nil, count: max(c.inputs.count - 1, 0))
  }

  /// AveragePool spreads dy/divisor over its window; MaxPool routes dy to the window's maximum.
  static func pool(_ c: VJPContext, max isMax: Bool) throws -> [[Float]?] {
    let x = try c.floats(0), xs = c.shape(0)
    guard let kernel = c.node.ints("kernel_shape") else { throw c.unsupported("without kernel_shape") }
    let win = try ConvWindow(node: c.node, input: xs, kernel: kernel, ceilMode: c.node.int("ceil_mode", default: 0) != 0)
    let includePad = c.node.int("count_include_pad", default: 0) != 0
    let items = xs[0] * xs[1], inPlane = win.inH * win.inW, plane = win.outH * win.outW
    let g = c.grad
    var dx = [Float](repeating: 0, count: x.count)
    for item in 0..<items {
      for oh in 0..<win.outH {
        for ow in 0..<win.outW {
          let gv = g[item * plane + oh * win.outW + ow]
          var cells: [Int] = []
          for kh in 0..<win.kH {
            let ih = oh * win.strideH - win.padTop + kh * win.dilH
            for kw in 0..<win.kW {
              let iw = ow * win.strideW - win.padLeft + kw * win.dilW
              if ih >= 0 && ih < win.inH && iw >= 0 && iw < win.inW { cells.append(item * inPlane + ih * win.inW + iw) }
            }
          }
          if cells.isEmpty { continue }
          if isMax {
            var best = cells[0]
            for j in cells where x[j] > x[best] { best = j }
            dx[best] += gv
            continue
          }
          var divisor = cells.count
          if includePad {
            let h0 = oh * win.strideH - win.padTop, w0 = ow * win.strideW - win.padLeft
            let h1 = min(h0 + (win.kH - 1) * win.dilH + 1, win.inH + win.padBottom)
            let w1 = min(w0 + (win.kW - 1) * win.dilW + 1, win.inW + win.padRight)
            divisor = ((h1 - h0 + win.dilH - 1) / win.dilH) * ((w1 - w0 + win.dilW - 1) / win.dilW)
          }
          for j in cells { dx[j] += gv / Float(divisor) }
        }
      }
    }
    return [dx]
  }
}
