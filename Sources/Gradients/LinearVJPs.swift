import Kernels
import Execution
import GraphIR
import TensorCore

/// Gradients of MatMul (batched, broadcasting, rank-1 operands) and Gemm, on the FP32 GEMM.
enum LinearVJPs {
  static let rules: [String: VJP] = [
    "MatMul": { c in try matmul(c) },
    "Gemm": { c in try gemm(c) },
  ]

  /// C = A·B per batch:  dA = dC·Bᵀ,  dB = Aᵀ·dC, summed over broadcast batches.
  static func matmul(_ c: VJPContext) throws -> [[Float]?] {
    let a = try c.floats(0), b = try c.floats(1)
    var aShape = c.shape(0), bShape = c.shape(1)
    if aShape.count == 1 { aShape = [1, aShape[0]] }
    if bShape.count == 1 { bShape = [bShape[0], 1] }
    let m = aShape[aShape.count - 2], k = aShape[aShape.count - 1], n = bShape[bShape.count - 1]
    let aBatch = Array(aShape.dropLast(2)), bBatch = Array(bShape.dropLast(2))
    guard let batch = ShapeMath.broadcast(aBatch, bBatch) else { throw c.unsupported("for batch shapes \(aShape), \(bShape)") }
    let g = c.grad
    var da = c.need(0) ? [Float](repeating: 0, count: a.count) : []
    var db = c.need(1) ? [Float](repeating: 0, count: b.count) : []
    a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in g.withUnsafeBufferPointer { pg in
      da.withUnsafeMutableBufferPointer { pda in db.withUnsafeMutableBufferPointer { pdb in
        if bBatch.isEmpty {
          // Constant-weight layout: every batch of A is more rows of one product.
          let rows = batch.reduce(1, *) * m
          if c.need(0) {
            FloatGEMM.sgemmParallel(transB: true, m: rows, n: k, k: n, a: pg.baseAddress!, lda: n, b: pb.baseAddress!, ldb: n,
              c: pda.baseAddress!, ldc: k)
          }
          if c.need(1) {
            FloatGEMM.sgemmParallel(transA: true, m: k, n: n, k: rows, a: pa.baseAddress!, lda: k, b: pg.baseAddress!, ldb: n,
              c: pdb.baseAddress!, ldc: n)
          }
          return
        }
        let ia = Broadcast.indices(aBatch, to: batch), ib = Broadcast.indices(bBatch, to: batch)
        for i in 0..<batch.reduce(1, *) {
          let gi = pg.baseAddress! + i * m * n
          if c.need(0) {
            FloatGEMM.sgemm(transB: true, m: m, n: k, k: n, a: gi, lda: n, b: pb.baseAddress! + ib[i] * k * n, ldb: n,
              beta: 1, c: pda.baseAddress! + ia[i] * m * k, ldc: k)
          }
          if c.need(1) {
            FloatGEMM.sgemm(transA: true, m: k, n: n, k: m, a: pa.baseAddress! + ia[i] * m * k, lda: k, b: gi, ldb: n,
              beta: 1, c: pdb.baseAddress! + ib[i] * k * n, ldc: n)
          }
        }
      } }
    } } }
    return [c.need(0) ? da : nil, c.need(1) ? db : nil]
  }

  /// Y = α·op(A)·op(B) + β·C.
  ///
  ///     d op(A) = α·dY·op(B)ᵀ     d op(B) = α·op(A)ᵀ·dY     dC = β·dY summed onto C's shape
  static func gemm(_ c: VJPContext) throws -> [[Float]?] {
    let a = try c.floats(0), b = try c.floats(1)
    let ta = c.node.int("transA", default: 0) != 0, tb = c.node.int("transB", default: 0) != 0
    let alpha = c.node.float("alpha", default: 1), beta = c.node.float("beta", default: 1)
    let sa = c.shape(0), sb = c.shape(1)
    let m = ta ? sa[1] : sa[0], k = ta ? sa[0] : sa[1], n = tb ? sb[0] : sb[1]
    let g = c.grad
    var da = c.need(0) ? [Float](repeating: 0, count: a.count) : []
    var db = c.need(1) ? [Float](repeating: 0, count: b.count) : []
    a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in g.withUnsafeBufferPointer { pg in
      da.withUnsafeMutableBufferPointer { pda in db.withUnsafeMutableBufferPointer { pdb in
        if c.need(0) {
          if ta {  // dA (k×m) = α·op(B)·dYᵀ
            FloatGEMM.sgemm(transA: tb, transB: true, m: k, n: m, k: n, alpha: alpha, a: pb.baseAddress!, lda: sb[1],
              b: pg.baseAddress!, ldb: n, c: pda.baseAddress!, ldc: m)
          } else {  // dA (m×k) = α·dY·op(B)ᵀ
            FloatGEMM.sgemm(transB: !tb, m: m, n: k, k: n, alpha: alpha, a: pg.baseAddress!, lda: n, b: pb.baseAddress!,
              ldb: sb[1], c: pda.baseAddress!, ldc: k)
          }
        }
        if c.need(1) {
          if tb {  // dB (n×k) = α·dYᵀ·op(A)
            FloatGEMM.sgemm(transA: true, transB: ta, m: n, n: k, k: m, alpha: alpha, a: pg.baseAddress!, lda: n,
              b: pa.baseAddress!, ldb: sa[1], c: pdb.baseAddress!, ldc: k)
          } else {  // dB (k×n) = α·op(A)ᵀ·dY
            FloatGEMM.sgemm(transA: !ta, m: k, n: n, k: m, alpha: alpha, a: pa.baseAddress!, lda: sa[1], b: pg.baseAddress!,
              ldb: n, c: pdb.baseAddress!, ldc: n)
          }
        }
      } }
    } } }
    var dc: [Float]? = nil
    if c.need(2), let cShape = c.inputs.count > 2 ? c.inputs[2]?.shape : nil {
      dc = unbroadcast(g.map { $0 * beta }, from: [m, n], to: cShape)
    }
    return [c.need(0) ? da : nil, c.need(1) ? db : nil, dc]
  }
}
