import CKernels

/// A layer's integer weights, packed once for the GEMM and GEMV kernels.
///
///     w_real[n][k] ≈ scale[n][k / group] · w[n][k],   w ∈ [−128, 127] (int8) or [−8, 7] (int4)
///
/// Symmetric (zero point 0), one scale per output row and group of `group` consecutive k.
public final class QuantizedWeights: @unchecked Sendable {
  /// 8 or 4.
  public let bits: Int
  /// Output channels (rows) and depth (k).
  public let rows: Int, depth: Int
  /// k per scale group; `paddedDepth` when one scale covers a whole row.
  public let group: Int
  /// `depth` rounded up to the packing block and to a whole number of groups.
  public let paddedDepth: Int
  /// Scales group-major: scales[g·rows + n].
  let scales: [Float]
  /// Σ w over each group, group-major like `scales`.
  let sums: [Int32]
  let packed: AlignedBuffer

  /// - Parameters:
  ///   - values: row-major rows × depth integers in the range of `bits`.
  ///   - scales: row-major rows × groups, positive and finite.
  ///   - group: k per scale (a multiple of 16, e.g. 32, 64, 128), or nil for one scale per row.
  public init(bits: Int, rows: Int, depth: Int, values: [Int8], scales rowScales: [Float], group: Int? = nil) throws {
    guard bits == 8 || bits == 4 else { throw KernelError("weights must have 8 or 4 bits, not \(bits)") }
    guard rows > 0, depth > 0, values.count == rows * depth else {
      throw KernelError("weights: \(values.count) values for \(rows) rows × \(depth) depth")
    }
    let block = bits == 4 ? Int(CK_Q4_KBLOCK) : Int(CK_Q_KBLOCK)
    if let group {
      guard group > 0, group % 16 == 0 else { throw KernelError("group size must be a positive multiple of 16, not \(group)") }
      paddedDepth = (depth + group - 1) / group * group
      self.group = group
    } else {
      paddedDepth = (depth + block - 1) / block * block
      self.group = paddedDepth
    }
    let groups = paddedDepth / self.group
    guard rowScales.count == rows * groups, rowScales.allSatisfy({ $0.isFinite && $0 > 0 }) else {
      throw KernelError("weights need \(rows)×\(groups) positive finite scales, got \(rowScales.count)")
    }
    let lo: Int8 = bits == 4 ? -8 : -128, hi: Int8 = bits == 4 ? 7 : 127
    if let bad = values.firstIndex(where: { $0 < lo || $0 > hi }) {
      throw KernelError("weight \(values[bad]) at row \(bad / depth), k \(bad % depth) is outside [\(lo), \(hi)] for int\(bits)")
    }
    self.bits = bits
    self.rows = rows
    self.depth = depth
    var scales = [Float](repeating: 0, count: rows * groups)
    var sums = [Int32](repeating: 0, count: rows * groups)
    for n in 0..<rows {
      for g in 0..<groups {
        scales[g * rows + n] = rowScales[n * groups + g]
        var s: Int32 = 0
        for k in (g * self.group)..<Swift.min((g + 1) * self.group, depth) { s += Int32(values[n * depth + k]) }
        sums[g * rows + n] = s
      }
    }
    self.scales = scales
    self.sums = sums
    packed = AlignedBuffer(bytes: ck_q_packed_bytes(Int32(bits), Int32(rows), Int32(paddedDepth)))
    let target = packed.raw.assumingMemoryBound(to: UInt8.self)
    values.withUnsafeBufferPointer {
      ck_q_pack_weights(Int32(bits), $0.baseAddress, Int32(rows), Int32(depth), depth, Int32(paddedDepth), target)
    }
  }

  /// Bytes the packed weights occupy (what the model file and memory pay for them).
  public var packedBytes: Int { packed.bytes }
  public var groups: Int { paddedDepth / group }
  var panels: Int { (rows + 7) / 8 }

  func withC<R>(_ body: (UnsafePointer<ck_q_weights>) throws -> R) rethrows -> R {
    try scales.withUnsafeBufferPointer { s in
      try sums.withUnsafeBufferPointer { u in
        var w = ck_q_weights(
          data: UnsafePointer(packed.raw.assumingMemoryBound(to: UInt8.self)), bits: Int32(bits), n: Int32(rows),
          k: Int32(depth), k_padded: Int32(paddedDepth), group: Int32(group), scales: s.baseAddress, sums: u.baseAddress)
        return try body(&w)
      }
    }
  }
}
