import Foundation
import GraphIR
import Kernels
import TensorCore

/// A MatMul between two activations on the integer kernels (attention's Q·Kᵀ and P·V):
///
///     y[b][m][n] = s_l · s_r · Σ_k (l[b][m][k] − z_l) · r[b][k][n]
///
/// with the left input as uint8 codes (scale s_l, zero z_l) and the right one as symmetric int8
/// codes (scale s_r), quantized as they arrive. Each batch's right matrix is packed as the weights
/// of one GEMM; batch dimensions broadcast as in MatMul. The scalar twin is the `.scalar` ISA.
public enum QuantizedProduct {
  /// The float product (`output: .float32`), or the raw int32 sums Σ (l − z_l)·r (`.int32`,
  /// for tests that check the integer arithmetic exactly).
  public static func run(
    _ node: Node, left a: Tensor, right b: Tensor, leftCodes: ActivationParameters, rightCodes: ActivationParameters,
    output kind: KernelOutput = .float32, isa: KernelISA = .selected
  ) throws -> Tensor {
    guard rightCodes.zero == 128 else { throw opError(node, "the right input of an activation product must be symmetric (zero point 128)") }
    guard a.rank >= 2, b.rank >= 2 else { throw opError(node, "an INT8 activation product needs inputs of rank ≥ 2, got \(a.shape) × \(b.shape)") }
    let m = a.shape[a.rank - 2], k = a.shape[a.rank - 1], n = b.shape[b.rank - 1]
    guard b.shape[b.rank - 2] == k else { throw opError(node, "inner dimensions differ: \(a.shape) × \(b.shape)") }
    guard let batch = ShapeMath.broadcast(Array(a.shape.dropLast(2)), Array(b.shape.dropLast(2))) else {
      throw opError(node, "batch dimensions do not broadcast: \(a.shape) × \(b.shape)")
    }
    let batches = batch.reduce(1, *)
    let shape = batch + [m, n]
    let av = try a.floatValues(node), bv = try b.floatValues(node)
    guard batches * m * n > 0, k > 0 else {
      return kind == .int32 ? Tensor(dtype: .int32, shape: shape, storage: .int([Int64](repeating: 0, count: batches * m * n)))
        : Tensor(dtype: a.dtype, shape: shape, storage: .float([Float](repeating: 0, count: batches * m * n)))
    }
    let leftBuffer = AlignedBuffer(bytes: av.count), rightBuffer = AlignedBuffer(bytes: bv.count)
    let ql = leftBuffer.raw.assumingMemoryBound(to: UInt8.self), qr = rightBuffer.raw.assumingMemoryBound(to: UInt8.self)
    av.withUnsafeBufferPointer { ActivationCodes.quantize($0.baseAddress!, count: av.count, scale: leftCodes.scale, zero: leftCodes.zero, into: ql, isa: isa) }
    bv.withUnsafeBufferPointer { ActivationCodes.quantize($0.baseAddress!, count: bv.count, scale: rightCodes.scale, zero: 128, into: qr, isa: isa) }
    let ia = Broadcast.indices(Array(a.shape.dropLast(2)), to: batch)
    let ib = Broadcast.indices(Array(b.shape.dropLast(2)), to: batch)
    let out = AlignedBuffer(bytes: batches * m * n * 4)
    let epilogue = KernelEpilogue(output: kind == .int32 ? .int32 : .float32)
    let scales = [Float](repeating: rightCodes.scale, count: n)
    var failure: Error?
    let lock = NSLock()
    // Each distinct right matrix [k][n] packed once as signed weight rows [n][k] (a broadcast
    // right input serves several batches).
    let slices = Array(Set(ib)).sorted()
    var packed = [QuantizedWeights?](repeating: nil, count: slices.count)
    packed.withUnsafeMutableBufferPointer { out in
      let out = out
      Parallel.forEach(slices.count, costPerItem: n * k) { s in
        let r = qr + slices[s] * k * n
        var values = [Int8](repeating: 0, count: n * k)
        for kk in 0..<k { for j in 0..<n { values[j * k + kk] = Int8(bitPattern: r[kk * n + j] ^ 0x80) } }
        do { out[s] = try QuantizedWeights(bits: 8, rows: n, depth: k, values: values, scales: scales) } catch {
          lock.lock()
          failure = failure ?? error
          lock.unlock()
        }
      }
    }
    if let failure { throw opError(node, "\(failure)") }
    let slot = Dictionary(uniqueKeysWithValues: slices.enumerated().map { ($1, $0) })
    Parallel.forEach(batches, costPerItem: m * n * k) { i in
      do {
        let w = packed[slot[ib[i]]!]!
        let x = QuantizedActivations(codes: UnsafePointer(ql + ia[i] * m * k), layout: .rows(count: m, stride: k),
          scale: leftCodes.scale, zero: leftCodes.zero)
        try QuantizedGEMM.run(w, x, epilogue: epilogue, output: out.raw + i * m * n * 4, rowStride: 1, columnStride: n,
          isa: isa, threads: 1)
      } catch {
        lock.lock()
        failure = failure ?? error
        lock.unlock()
      }
    }
    if let failure { throw opError(node, "\(failure)") }
    if kind == .int32 {
      let p = out.raw.assumingMemoryBound(to: Int32.self)
      return Tensor(dtype: .int32, shape: shape, storage: .int((0..<(batches * m * n)).map { Int64(p[$0]) }))
    }
    let p = out.raw.assumingMemoryBound(to: Float.self)
    return Tensor(dtype: a.dtype, shape: shape, storage: .float(Array(UnsafeBufferPointer(start: p, count: batches * m * n))))
  }

  /// Whether `node` is one of the graph's activation products (a MatMul of two computed values);
  /// ranks and dtypes are checked by `run`, when the values arrive.
  public static func supports(_ node: Node, in graph: Graph) -> Bool {
    graph.activationProducts.contains { $0.name == (node.name.isEmpty ? node.outputs[0] : node.name) }
  }
}
