import Execution
import GraphIR
import Kernels
import TensorCore

/// Gradient of ConvTranspose. Forward, per image and group: col = W_gᵀ·X_g, then col is
/// scattered into Y (output position = input position · stride − pad + tap · dilation). Its
/// adjoint gathers dY back into columns at the same positions, and then
///
///     dX_g = W_g · gcol        dW_g += X_g · gcolᵀ        db = Σ dY
///
/// with W_g the group's weights as icg × (ocg·kH·kW).
enum ConvTransposeVJPs {
  static let rules: [String: VJP] = ["ConvTranspose": { c in try convTranspose(c) }]

  static func convTranspose(_ c: VJPContext) throws -> [[Float]?] {
    let x = try c.floats(0), w = try c.floats(1)
    let geo = try ConvTransposeGeometry(node: c.node, input: c.shape(0), weight: c.shape(1))
    let kk = geo.kH * geo.kW, rows = geo.ocg * kk, inPlane = geo.inH * geo.inW, outPlane = geo.outH * geo.outW
    let g = c.grad
    let needX = c.need(0), needW = c.need(1), needB = c.need(2)
    var dx = [Float](repeating: 0, count: needX ? x.count : 0)
    var dw = [Float](repeating: 0, count: needW ? w.count : 0)
    var gcol = [Float](repeating: 0, count: rows * inPlane)
    x.withUnsafeBufferPointer { px in w.withUnsafeBufferPointer { pw in g.withUnsafeBufferPointer { pg in
      dx.withUnsafeMutableBufferPointer { pdx in dw.withUnsafeMutableBufferPointer { pdw in gcol.withUnsafeMutableBufferPointer { pc in
        let pc = pc
        for b in 0..<geo.n {
          for gi in 0..<geo.group {
            // gcol[o·kk + tap][ih·inW + iw] = dY at the position that column fed (0 outside).
            Parallel.forEach(geo.ocg, costPerItem: kk * inPlane) { o in
              let src = pg.baseAddress! + (b * geo.oc + gi * geo.ocg + o) * outPlane
              for tap in 0..<kk {
                let kh = tap / geo.kW, kw = tap % geo.kW
                let dst = pc.baseAddress! + (o * kk + tap) * inPlane
                for ih in 0..<geo.inH {
                  let to = dst + ih * geo.inW
                  guard let oh = geo.outputRow(ih, tap: kh) else {
                    to.update(repeating: 0, count: geo.inW)
                    continue
                  }
                  let from = src + oh * geo.outW
                  for iw in 0..<geo.inW { to[iw] = geo.outputColumn(iw, tap: kw).map { from[$0] } ?? 0 }
                }
              }
            }
            let wg = pw.baseAddress! + gi * geo.icg * rows
            let xg = px.baseAddress! + (b * geo.c + gi * geo.icg) * inPlane
            if needX {
              FloatGEMM.sgemm(m: geo.icg, n: inPlane, k: rows, a: wg, lda: rows, b: pc.baseAddress!, ldb: inPlane,
                c: pdx.baseAddress! + (b * geo.c + gi * geo.icg) * inPlane, ldc: inPlane)
            }
            if needW {
              FloatGEMM.sgemm(transB: true, m: geo.icg, n: rows, k: inPlane, a: xg, lda: inPlane, b: pc.baseAddress!, ldb: inPlane,
                beta: 1, c: pdw.baseAddress! + gi * geo.icg * rows, ldc: rows)
            }
          }
        }
      } } }
    } } }
    var db: [Float]? = nil
    if needB {
      var s = [Float](repeating: 0, count: geo.oc)
      for b in 0..<geo.n {
        for o in 0..<geo.oc {
          let base = (b * geo.oc + o) * outPlane
          var a: Float = 0
          for i in 0..<outPlane { a += g[base + i] }
          s[o] += a
        }
      }
      db = s
    }
    return [needX ? dx : nil, needW ? dw : nil, db]
  }
}
