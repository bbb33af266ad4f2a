import Kernels
import GraphIR
import TensorCore

/// MatMul (NumPy semantics, batched with broadcasting) and Gemm, on the FP32 GEMM; a constant B
/// is packed once per session (`packed`).
enum LinearOps {
  static let kernels: [String: OpKernel] = [
    "MatMul": { node, inputs, _ in [try matmul(node, try inputs.required(0, node), try inputs.required(1, node))] },
    "Gemm": { node, inputs, _ in [try gemm(node, inputs)] },
  ]

  /// `columnBias` (one value per output column) and `epilogue` are nodes the interpreter fused
  /// into this one (`EpilogueFusion`).
  static func matmul(_ node: Node, _ a: Tensor, _ b: Tensor, packed: PackedFloatWeights? = nil, columnBias: [Float]? = nil,
                     epilogue: Epilogue = .identity) throws -> Tensor {
    let av = try a.floatValues(node), bv = try b.floatValues(node)
    guard a.rank >= 1, b.rank >= 1 else { throw opError(node, "MatMul needs inputs of rank ≥ 1") }
    var aShape = a.shape, bShape = b.shape
    if aShape.count == 1 { aShape = [1, aShape[0]] }
    if bShape.count == 1 { bShape = [bShape[0], 1] }
    let m = aShape[aShape.count - 2], k = aShape[aShape.count - 1]
    let k2 = bShape[bShape.count - 2], n = bShape[bShape.count - 1]
    guard k == k2 else { throw opError(node, "inner dimensions differ: \(a.shape) × \(b.shape)") }
    guard let batch = ShapeMath.broadcast(Array(aShape.dropLast(2)), Array(bShape.dropLast(2))) else {
      throw opError(node, "batch dimensions do not broadcast: \(a.shape) × \(b.shape)")
    }
    var outShape = batch + [m, n]
    let batches = batch.reduce(1, *)
    // With any depth every element is stored by the GEMM (no zero fill first).
    var out = k > 0 ? [Float](uninitializedForKernels: batches * m * n) : [Float](repeating: 0, count: batches * m * n)
    if batches * m * n > 0 && k > 0 {
    av.withUnsafeBufferPointer { pa in bv.withUnsafeBufferPointer { pb in out.withUnsafeMutableBufferPointer { pc in
      if bShape.count == 2 {
        // Constant-weight layout: fold all batches of A into rows of one GEMM.
        if let packed {
          let columns = packed.get { FloatColumnPanels(columns: n, depth: k, pb.baseAddress!, depthStride: n, columnStride: 1) }
          (columnBias ?? []).withUnsafeBufferPointer { bias in
            FloatGEMM.run(rowsInPlace: pa.baseAddress!, rows: batches * m, depth: k, lda: k, columns: .packed(columns), count: n,
              output: pc.baseAddress!, rowStride: n, columnStride: 1,
              epilogue: FloatEpilogue(columnBias: columnBias == nil ? nil : bias.baseAddress, clip: epilogue.kernelClip))
          }
        } else {
          FloatGEMM.sgemmParallel(m: batches * m, n: n, k: k, a: pa.baseAddress!, lda: k, b: pb.baseAddress!, ldb: n,
            c: pc.baseAddress!, ldc: n)
          if let columnBias {
            for r in 0..<(batches * m) { for j in 0..<n { pc[r * n + j] += columnBias[j] } }
          }
          if let clip = epilogue.kernelClip { for i in pc.indices { pc[i] = Swift.min(Swift.max(pc[i], clip.lowerBound), clip.upperBound) } }
        }
        epilogue.afterKernel.applyInParallel(pc.baseAddress!, count: pc.count)
        return
      }
      let ia = Broadcast.indices(Array(aShape.dropLast(2)), to: batch)
      let ib = Broadcast.indices(Array(bShape.dropLast(2)), to: batch)
      Parallel.forEach(batches, costPerItem: m * n * k) { i in
        FloatGEMM.sgemm(m: m, n: n, k: k, a: pa.baseAddress! + ia[i] * m * k, lda: k,
          b: pb.baseAddress! + ib[i] * k * n, ldb: n, c: pc.baseAddress! + i * m * n, ldc: n)
      }
    } } }
    }
    if a.rank == 1 { outShape.remove(at: outShape.count - 2) }
    if b.rank == 1 { outShape.removeLast() }
    return Tensor(dtype: a.dtype, shape: outShape, storage: .float(out))
  }

  static func gemm(_ node: Node, _ inputs: [Tensor?], packed: PackedFloatWeights? = nil) throws -> Tensor {
    let a = try inputs.required(0, node), b = try inputs.required(1, node)
    guard a.rank == 2, b.rank == 2 else { throw opError(node, "Gemm needs 2-D A and B, got \(a.shape), \(b.shape)") }
    let ta = node.int("transA", default: 0) != 0, tb = node.int("transB", default: 0) != 0
    let alpha = node.float("alpha", default: 1), beta = node.float("beta", default: 1)
    let m = ta ? a.shape[1] : a.shape[0], k = ta ? a.shape[0] : a.shape[1]
    let kb = tb ? b.shape[1] : b.shape[0], n = tb ? b.shape[0] : b.shape[1]
    guard k == kb else { throw opError(node, "inner dimensions differ: A \(a.shape) transA=\(ta), B \(b.shape) transB=\(tb)") }
    var out = [Float](repeating: 0, count: m * n)
    var betaUsed: Float = 0
    if let c = inputs.optional(2), beta != 0 {
      guard let s = ShapeMath.broadcast(c.shape, [m, n]), s == [m, n] else {
        throw opError(node, "C of shape \(c.shape) does not broadcast to [\(m), \(n)]")
      }
      let cv = try c.floatValues(node)
      let idx = Broadcast.indices(c.shape, to: [m, n])
      for i in 0..<(m * n) { out[i] = cv[idx[i]] }
      betaUsed = beta
    }
    let av = try a.floatValues(node), bv = try b.floatValues(node)
    if m * n == 0 { return Tensor(dtype: a.dtype, shape: [m, n], storage: .float(out)) }
    if k == 0 { return Tensor(dtype: a.dtype, shape: [m, n], storage: .float(out.map { $0 * betaUsed })) }
    av.withUnsafeBufferPointer { pa in bv.withUnsafeBufferPointer { pb in out.withUnsafeMutableBufferPointer { pc in
      guard let packed else {
        FloatGEMM.sgemmParallel(transA: ta, transB: tb, m: m, n: n, k: k, alpha: alpha, a: pa.baseAddress!,
          lda: a.shape[1], b: pb.baseAddress!, ldb: b.shape[1], beta: betaUsed, c: pc.baseAddress!, ldc: n)
        return
      }
      let ldb = b.shape[1]
      let columns = packed.get {
        FloatColumnPanels(columns: n, depth: k, pb.baseAddress!, depthStride: tb ? 1 : ldb, columnStride: tb ? ldb : 1)
      }
      let lda = a.shape[1]
      let epilogue = FloatEpilogue(alpha: alpha, beta: betaUsed)
      if ta {
        let rows = FloatRowPanels(rows: m, depth: k, pa.baseAddress!, rowStride: 1, depthStride: lda)
        FloatGEMM.run(rows: rows, columns: .packed(columns), count: n, output: pc.baseAddress!, rowStride: n, columnStride: 1,
          epilogue: epilogue)
      } else {
        FloatGEMM.run(rowsInPlace: pa.baseAddress!, rows: m, depth: k, lda: lda, columns: .packed(columns), count: n,
          output: pc.baseAddress!, rowStride: n, columnStride: 1, epilogue: epilogue)
      }
    } } }
    return Tensor(dtype: a.dtype, shape: [m, n], storage: .float(out))
  }
}
