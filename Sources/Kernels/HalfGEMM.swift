import CKernels

/// A layer's weights in IEEE binary16, packed once for the half-precision GEMM.
public final class HalfWeights: @unchecked Sendable {
  public let rows: Int, depth: Int
  let packed: AlignedBuffer

  /// - Parameter values: row-major rows × depth binary16 bit patterns.
  public init(rows: Int, depth: Int, values: [UInt16]) throws {
    guard rows > 0, depth > 0, values.count == rows * depth else {
      throw KernelError("half weights: \(values.count) values for \(rows) rows × \(depth) depth")
    }
    self.rows = rows
    self.depth = depth
    packed = AlignedBuffer(bytes: ck_h_packed_weight_halves(Int32(rows), Int32(depth)) * 2)
    values.withUnsafeBufferPointer {
      ck_h_pack_weights($0.baseAddress, Int32(rows), Int32(depth), depth, packed.raw.assumingMemoryBound(to: UInt16.self))
    }
  }

  /// Rounds float32 weights to binary16.
  public convenience init(rows: Int, depth: Int, float values: [Float]) throws {
    var halves = [UInt16](repeating: 0, count: values.count)
    values.withUnsafeBufferPointer { src in
      halves.withUnsafeMutableBufferPointer { ActivationCodes.toHalf(src.baseAddress!, count: values.count, into: $0.baseAddress!) }
    }
    try self.init(rows: rows, depth: depth, values: halves)
  }

  public var packedBytes: Int { rows * depth * 2 }
  var panels: Int { (rows + 7) / 8 }
}

/// Half-precision GEMM: binary16 weights and activations in memory, float32 fused multiply-adds
/// in k order, so every instruction set gives the scalar twin's bits.
///
///     y[n][m] = epilogue( Σ_k w[n][k] · x[m][k] )
///
/// Up to `QuantizedGEMM.gemvColumns` rows of tokens go through the GEMV, whose sum is two chains
/// (even k, odd k) added at the end.
public enum HalfGEMM {
  /// - Parameters:
  ///   - x: binary16 activations laid out as `layout` says.
  ///   - epilogue: output `.float32` or `.float16`.
  public static func run(
    _ w: HalfWeights, _ x: UnsafePointer<UInt16>, layout: ActivationLayout, epilogue: KernelEpilogue,
    output: UnsafeMutableRawPointer, rowStride: Int, columnStride: Int, isa: KernelISA = .selected,
    threads: Int? = nil
  ) throws {
    let m = layout.count
    guard m > 0 else { return }
    guard epilogue.output == .float32 || epilogue.output == .float16 else {
      throw KernelError("the half-precision GEMM writes float32 or float16, not \(epilogue.output)")
    }
    if let bias = epilogue.bias, bias.count != w.rows {
      throw KernelError("bias has \(bias.count) values for \(w.rows) output channels")
    }
    let k = w.depth
    if m <= QuantizedGEMM.gemvColumns {
      // GEMV: the weights stream once per row; threads take equal contiguous slices of them. A
      // few columns (a convolution on a 1×1 plane) are gathered into rows first.
      var gathered: AlignedBuffer? = nil
      var rows = x, stride = k
      switch layout {
      case .rows(_, let s): stride = s
      case .columns(_, let s):
        let buffer = AlignedBuffer(bytes: m * k * 2)
        let dst = buffer.raw.assumingMemoryBound(to: UInt16.self)
        for r in 0..<m { for kk in 0..<k { dst[r * k + kk] = x[kk * s + r] } }
        rows = UnsafePointer(dst)
        gathered = buffer
      }
      defer { withExtendedLifetime(gathered) {} }
      let kernel = ck_h_gemv_for(isa.c)!
      let weights = UnsafePointer(w.packed.raw.assumingMemoryBound(to: UInt16.self))
      let scratchFloats = ck_h_gemv_scratch_floats(Int32(k))
      withBias(epilogue.bias) { bias in
        var e = epilogue.c(bias: bias, y: output, rowStride: rowStride, columnStride: columnStride)
        withUnsafePointer(to: &e) { ep in
          Parallel.forEachRange(w.panels, costPerItem: 8 * m * k, threads: threads, chunksPerThread: 1) { range in
            let scratch = AlignedBuffer(bytes: scratchFloats * 4)
            kernel(weights, Int32(w.rows), Int32(k), rows, stride, Int32(m), ep, Int32(range.lowerBound),
              Int32(range.upperBound), scratch.raw.assumingMemoryBound(to: Float.self))
          }
        }
      }
      return
    }
    let packed = AlignedBuffer(bytes: ck_h_packed_activation_floats(Int32(m), Int32(k)) * 4)
    let dst = packed.raw.assumingMemoryBound(to: Float.self)
    Parallel.forEachRange((m + 31) / 32, costPerItem: 32 * k, threads: threads) { range in
      let m0 = range.lowerBound * 32, count = Swift.min(range.upperBound * 32, m) - m0
      switch layout {
      case .rows(_, let stride): ck_h_pack_rows(x + m0 * stride, Int32(count), Int32(k), stride, dst + m0 * k)
      case .columns(_, let stride): ck_h_pack_columns(x + m0, Int32(k), Int32(count), stride, dst + m0 * k)
      }
    }
    let kernel = ck_h_gemm_for(isa.c)!
    let weights = UnsafePointer(w.packed.raw.assumingMemoryBound(to: UInt16.self))
    withBias(epilogue.bias) { bias in
      var e = epilogue.c(bias: bias, y: output, rowStride: rowStride, columnStride: columnStride)
      withUnsafePointer(to: &e) { ep in
        Parallel.forEachRange(w.panels, costPerItem: 8 * m * k, threads: threads) { range in
          let scratch = AlignedBuffer(bytes: 8 * k * 4)
          kernel(weights, Int32(w.rows), Int32(k), dst, Int32(m), ep, Int32(range.lowerBound), Int32(range.upperBound),
            scratch.raw.assumingMemoryBound(to: Float.self))
        }
      }
    }
  }
}
