import Execution
import GraphIR
import Kernels
import TensorCore

/// Gradient of Conv (1-D/2-D, groups, strides, pads, dilations): per image and group
///
///     dW_g += dY_g · colᵀ        dcol = W_gᵀ · dY_g  → col2im into dX       db += Σ dY
///
/// with `col` the im2col unfolding of the input; depthwise convolutions run direct loops.
enum ConvVJPs {
  static let rules: [String: VJP] = ["Conv": { c in try conv(c) }]

  static func conv(_ c: VJPContext) throws -> [[Float]?] {
    let x = try c.floats(0), w = try c.floats(1)
    let xs = c.shape(0), ws = c.shape(1)
    let win = try ConvWindow(node: c.node, input: xs, weight: ws)
    let n = xs[0], ch = xs[1], oc = ws[0], icg = ws[1]
    let group = c.node.int("group", default: 1)
    let ocg = oc / group, plane = win.outH * win.outW, inPlane = win.inH * win.inW
    let kk = icg * win.kH * win.kW
    let g = c.grad
    let needX = c.need(0), needW = c.need(1), needB = c.need(2)
    var dx = needX ? [Float](repeating: 0, count: x.count) : []
    // Per-chunk weight cotangents, summed in chunk order (deterministic).
    let chunks = min(n, Parallel.cores)
    let dwParts = UnsafeMutablePointer<Float>.allocate(capacity: needW ? max(chunks, 1) * w.count : 1)
    dwParts.initialize(repeating: 0, count: needW ? max(chunks, 1) * w.count : 1)
    defer { dwParts.deallocate() }
    let depthwise = icg == 1 && group == ch && group > 1
    x.withUnsafeBufferPointer { px in w.withUnsafeBufferPointer { pw in g.withUnsafeBufferPointer { pg in
      dx.withUnsafeMutableBufferPointer { pdx in
        let dxBase = needX ? pdx.baseAddress : nil
        Parallel.forEach(chunks, costPerItem: 1 << 20) { chunk in
          let images = (chunk * n / chunks)..<((chunk + 1) * n / chunks)
          let dw: UnsafeMutablePointer<Float>? = needW ? dwParts + chunk * w.count : nil
          var col = [Float](repeating: 0, count: depthwise ? 0 : kk * plane)
          var dcol = col
          for b in images {
            if depthwise {
              depthwiseBackward(x: px.baseAddress! + b * ch * inPlane, w: pw.baseAddress!, g: pg.baseAddress! + b * oc * plane,
                dx: dxBase.map { $0 + b * ch * inPlane }, dw: dw, channels: ch, multiplier: ocg, win: win)
              continue
            }
            for gi in 0..<group {
              let src = px.baseAddress! + (b * ch + gi * icg) * inPlane
              let dy = pg.baseAddress! + (b * oc + gi * ocg) * plane
              let wg = pw.baseAddress! + gi * ocg * kk
              col.withUnsafeMutableBufferPointer { pc in dcol.withUnsafeMutableBufferPointer { pdc in
                let pointwise = win.isPointwise
                if let dw {
                  let colPtr: UnsafePointer<Float>
                  if pointwise { colPtr = src } else { ConvKernels.im2col(src, channels: icg, window: win, col: pc.baseAddress!); colPtr = UnsafePointer(pc.baseAddress!) }
                  FloatGEMM.sgemm(transB: true, m: ocg, n: kk, k: plane, a: dy, lda: plane, b: colPtr, ldb: plane,
                    beta: 1, c: dw + gi * ocg * kk, ldc: kk)
                }
                if let dxBase, needX {
                  let target = dxBase + (b * ch + gi * icg) * inPlane
                  if pointwise {
                    FloatGEMM.sgemm(transA: true, m: kk, n: plane, k: ocg, a: wg, lda: kk, b: dy, ldb: plane, beta: 1, c: target, ldc: plane)
                  } else {
                    FloatGEMM.sgemm(transA: true, m: kk, n: plane, k: ocg, a: wg, lda: kk, b: dy, ldb: plane, c: pdc.baseAddress!, ldc: plane)
                    col2imAdd(pdc.baseAddress!, channels: icg, win: win, into: target)
                  }
                }
              } }
            }
          }
        }
      }
    } } }
    var dw: [Float]? = nil
    if needW {
      var sum = Array(UnsafeBufferPointer(start: dwParts, count: w.count))
      for p in 1..<max(chunks, 1) { for i in 0..<sum.count { sum[i] += dwParts[p * w.count + i] } }
      dw = sum
    }
    var db: [Float]? = nil
    if needB {
      var s = [Float](repeating: 0, count: oc)
      for b in 0..<n { for o in 0..<oc { let base = (b * oc + o) * plane; var a: Float = 0; for i in 0..<plane { a += g[base + i] }; s[o] += a } }
      db = s
    }
    return [needX ? dx : nil, dw, db]
  }

  /// Input row (or nil when in padding) of output row `oh`, kernel row `kh`.
  @inline(__always)
  static func inputIndex(_ o: Int, _ k: Int, stride: Int, pad: Int, dil: Int, size: Int) -> Int? {
    let i = o * stride - pad + k * dil
    return i >= 0 && i < size ? i : nil
  }

  /// The adjoint of `ConvKernels.im2col`: adds every column entry back onto the input position it came from.
  static func col2imAdd(_ col: UnsafePointer<Float>, channels: Int, win: ConvWindow, into x: UnsafeMutablePointer<Float>) {
    let plane = win.outH * win.outW
    for row in 0..<(channels * win.kH * win.kW) {
      let kw = row % win.kW, kh = (row / win.kW) % win.kH, chn = row / (win.kW * win.kH)
      let dst = x + chn * win.inH * win.inW, src = col + row * plane
      for oh in 0..<win.outH {
        guard let ih = inputIndex(oh, kh, stride: win.strideH, pad: win.padTop, dil: win.dilH, size: win.inH) else { continue }
        for ow in 0..<win.outW {
          let iw = ow * win.strideW - win.padLeft + kw * win.dilW
          if iw >= 0 && iw < win.inW { dst[ih * win.inW + iw] += src[oh * win.outW + ow] }
        }
      }
    }
  }

  /// One image of a depthwise convolution (output channel o reads input channel o / multiplier).
  /// Per tap, the output columns whose input column is inside the image form one run, so the
  /// inner loops are straight multiply-adds.
  static func depthwiseBackward(x: UnsafePointer<Float>, w: UnsafePointer<Float>, g: UnsafePointer<Float>,
                                dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>?,
                                channels: Int, multiplier: Int, win: ConvWindow) {
    let taps = win.kH * win.kW, plane = win.outH * win.outW, inPlane = win.inH * win.inW
    let sw = win.strideW
    for o in 0..<(channels * multiplier) {
      let src = x + (o / multiplier) * inPlane, dy = g + o * plane
      let dxPlane = dx.map { $0 + (o / multiplier) * inPlane }
      for kh in 0..<win.kH {
        for kw in 0..<win.kW {
          let tap = o * taps + kh * win.kW + kw
          let wv = w[tap]
          let off = kw * win.dilW - win.padLeft
          // Valid output columns: 0 ≤ ow·stride + off < inW.
          let lo = off >= 0 ? 0 : min((-off + sw - 1) / sw, win.outW)
          let hi = max(min(win.inW - off > 0 ? (win.inW - off - 1) / sw + 1 : 0, win.outW), lo)
          var acc: Float = 0
          for oh in 0..<win.outH {
            guard let ih = inputIndex(oh, kh, stride: win.strideH, pad: win.padTop, dil: win.dilH, size: win.inH) else { continue }
            let gRow = dy + oh * win.outW, xRow = src + ih * win.inW + off
            if let dxPlane {
              let dRow = dxPlane + ih * win.inW + off
              if sw == 1 {
                // Four partial sums so the dot product pipelines (and vectorizes).
                var a0: Float = 0, a1: Float = 0, a2: Float = 0, a3: Float = 0
                var ow = lo
                while ow + 4 <= hi {
                  a0 += gRow[ow] * xRow[ow]; a1 += gRow[ow + 1] * xRow[ow + 1]
                  a2 += gRow[ow + 2] * xRow[ow + 2]; a3 += gRow[ow + 3] * xRow[ow + 3]
                  ow += 4
                }
                while ow < hi { a0 += gRow[ow] * xRow[ow]; ow += 1 }
                acc += (a0 + a1) + (a2 + a3)
                for ow in lo..<hi { dRow[ow] += gRow[ow] * wv }
              } else {
                for ow in lo..<hi { let gv = gRow[ow]; acc += gv * xRow[ow * sw]; dRow[ow * sw] += gv * wv }
              }
            } else {
              for ow in lo..<hi { acc += gRow[ow] * xRow[ow * sw] }
            }
          }
          if let dw { dw[tap] += acc }
        }
      }
    }
  }
}
