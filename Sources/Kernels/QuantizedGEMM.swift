import CKernels

/// How quantized activations are laid out in memory.
public enum ActivationLayout: Sendable {
  /// x[m][k] with row stride `stride` (tokens of a MatMul).
  case rows(count: Int, stride: Int)
  /// x[k][m] with row stride `stride` (the im2col matrix of a convolution; m = pixels).
  case columns(count: Int, stride: Int)

  var count: Int {
    switch self {
    case .rows(let c, _), .columns(let c, _): c
    }
  }
}

/// Quantized activations of one call: uint8 codes with their scale and zero point.
public struct QuantizedActivations {
  public var codes: UnsafePointer<UInt8>
  public var layout: ActivationLayout
  public var scale: Float
  public var zero: Int32

  public init(codes: UnsafePointer<UInt8>, layout: ActivationLayout, scale: Float, zero: Int32) {
    self.codes = codes
    self.layout = layout
    self.scale = scale
    self.zero = zero
  }
}

/// Integer GEMM on the packed weights:
///
///     y[n][m] = epilogue( s_a · Σ_g s_w[n][g] · Σ_{k∈g} (x[m][k] − z_a) · w[n][k] )
///
/// written to y[n·rowStride + m·columnStride]. Up to `gemvColumns` columns go through the GEMV
/// kernels (weights streamed once per column), more through the tiled GEMM.
public enum QuantizedGEMM {
  public static let gemvColumns = 4

  /// - Parameters:
  ///   - output: room for every y[n·rowStride + m·columnStride] in the epilogue's element type.
  ///   - isa: the instruction set (tests pin each one; default: the process's choice).
  ///   - threads: at most this many threads (nil: all cores).
  public static func run(
    _ w: QuantizedWeights, _ x: QuantizedActivations, epilogue: KernelEpilogue, output: UnsafeMutableRawPointer,
    rowStride: Int, columnStride: Int, isa: KernelISA = .selected, threads: Int? = nil
  ) throws {
    let m = x.layout.count
    guard m > 0 else { return }
    if let bias = epilogue.bias, bias.count != w.rows {
      throw KernelError("bias has \(bias.count) values for \(w.rows) output channels")
    }
    if case .int32 = epilogue.output, w.groups > 1 {
      throw KernelError("raw int32 output needs one scale per row, not \(w.groups) groups")
    }
    let kp = w.paddedDepth
    let useGEMV: Bool
    if case .rows = x.layout, m <= gemvColumns { useGEMV = true } else { useGEMV = false }
    // Activations in the kernel's layout, packed in parallel by 32-column panels.
    let packedBytes = useGEMV ? m * kp : ck_q_packed_activation_bytes(Int32(m), Int32(kp))
    let packed = AlignedBuffer(bytes: packedBytes)
    let dst = packed.raw.assumingMemoryBound(to: UInt8.self)
    let pad = UInt8(truncatingIfNeeded: x.zero)
    switch x.layout {
    case .rows(_, let stride) where useGEMV:
      for r in 0..<m {
        (dst + r * kp).initialize(repeating: pad, count: kp)
        (dst + r * kp).update(from: x.codes + r * stride, count: w.depth)
      }
    case .rows(_, let stride):
      let panels = (m + 31) / 32
      Parallel.forEachRange(panels, costPerItem: 32 * kp, threads: threads) { range in
        let m0 = range.lowerBound * 32, count = Swift.min(range.upperBound * 32, m) - m0
        ck_q_pack_rows(x.codes + m0 * stride, Int32(count), Int32(w.depth), stride, Int32(kp), pad, dst + m0 * kp)
      }
    case .columns(_, let stride):
      let panels = (m + 31) / 32
      Parallel.forEachRange(panels, costPerItem: 32 * kp, threads: threads) { range in
        let m0 = range.lowerBound * 32, count = Swift.min(range.upperBound * 32, m) - m0
        ck_q_pack_columns(x.codes + m0, Int32(w.depth), Int32(count), stride, Int32(kp), pad, dst + m0 * kp)
      }
    }
    let kernel = useGEMV ? ck_q_gemv_for(isa.c)! : ck_q_gemm_for(isa.c)!
    let scratchBytes = w.withC { ck_q_gemm_scratch_bytes($0) }
    withBias(epilogue.bias) { bias in
      var e = epilogue.c(bias: bias, y: output, rowStride: rowStride, columnStride: columnStride)
      var a = ck_q_activations(data: UnsafePointer(dst), m: Int32(m), scale: x.scale, zero: x.zero)
      w.withC { cw in
        withUnsafePointer(to: &a) { ap in
          withUnsafePointer(to: &e) { ep in
            Parallel.forEachRange(w.panels, costPerItem: 8 * m * kp, threads: threads) { range in
              let scratch = AlignedBuffer(bytes: scratchBytes)
              kernel(cw, ap, ep, Int32(range.lowerBound), Int32(range.upperBound),
                scratch.raw.assumingMemoryBound(to: UInt8.self))
            }
          }
        }
      }
    }
  }
}

/// Runs `body` with the bias's storage, or nil.
func withBias<R>(_ bias: [Float]?, _ body: (UnsafePointer<Float>?) throws -> R) rethrows -> R {
  guard let bias else { return try body(nil) }
  return try bias.withUnsafeBufferPointer { try body($0.baseAddress) }
}
