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

/// Quantized activations of one call: uint8 codes with their scale and zero point. Signed int8
/// codes enter as uint8 through `ActivationCodes.unsignedCodes` (q + 128, zero + 128).
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
    let kernel: ck_q_gemm_fn
    if m <= gemvColumns {
      // GEMV: plain rows padded to the packed depth (a few columns, such as a convolution on a
      // 1×1 plane, gathered into rows); threads split the weight panels.
      let rowsBuffer = AlignedBuffer(bytes: m * kp)
      let dst = rowsBuffer.raw.assumingMemoryBound(to: UInt8.self)
      for r in 0..<m {
        (dst + r * kp).initialize(repeating: UInt8(truncatingIfNeeded: x.zero), count: kp)
        switch x.layout {
        case .rows(_, let stride): (dst + r * kp).update(from: x.codes + r * stride, count: w.depth)
        case .columns(_, let stride): for k in 0..<w.depth { dst[r * kp + k] = x.codes[k * stride + r] }
        }
      }
      kernel = ck_q_gemv_for(isa.c)!
      splitRows(w, x, UnsafePointer(dst), epilogue, output, rowStride, columnStride, kernel, threads)
      return
    }
    kernel = ck_q_gemm_for(isa.c)!
    let columnPanels = (m + 31) / 32
    let width = Swift.min(threads ?? Parallel.cores, Parallel.cores)
    if width > 1 && columnPanels >= 2 * width {
      // Each task packs its own 32-column panels and runs every weight panel over them: the
      // packing is split too, and the (shared, read-only) weights stay in cache.
      let scratchBytes = w.withC { ck_q_gemm_scratch_bytes($0) }
      withBias(epilogue.bias) { bias in
        w.withC { cw in
          Parallel.forEachRange(columnPanels, costPerItem: 32 * kp * w.rows, threads: threads) { range in
            let m0 = range.lowerBound * 32, count = Swift.min(range.upperBound * 32, m) - m0
            let buffer = AlignedBuffer(bytes: ck_q_packed_activation_bytes(Int32(count), Int32(kp)) + scratchBytes)
            let dst = buffer.raw.assumingMemoryBound(to: UInt8.self)
            pack(x, from: m0, count: count, depth: w.depth, paddedDepth: kp, into: dst)
            var a = ck_q_activations(data: UnsafePointer(dst), m: Int32(count), scale: x.scale, zero: x.zero)
            var e = epilogue.c(bias: bias, y: output + m0 * columnStride * epilogue.output.elementBytes,
              rowStride: rowStride, columnStride: columnStride)
            kernel(cw, &a, &e, 0, Int32(w.panels), dst + ck_q_packed_activation_bytes(Int32(count), Int32(kp)))
          }
        }
      }
      return
    }
    // Few columns: pack them once, threads split the weight panels.
    let packed = AlignedBuffer(bytes: ck_q_packed_activation_bytes(Int32(m), Int32(kp)))
    let dst = packed.raw.assumingMemoryBound(to: UInt8.self)
    pack(x, from: 0, count: m, depth: w.depth, paddedDepth: kp, into: dst)
    splitRows(w, x, UnsafePointer(dst), epilogue, output, rowStride, columnStride, kernel, threads)
  }

  /// Packs columns [m0, m0 + count) of `x` into the GEMM layout.
  static func pack(
    _ x: QuantizedActivations, from m0: Int, count: Int, depth: Int, paddedDepth kp: Int,
    into dst: UnsafeMutablePointer<UInt8>
  ) {
    let pad = UInt8(truncatingIfNeeded: x.zero)
    switch x.layout {
    case .rows(_, let stride):
      ck_q_pack_rows(x.codes + m0 * stride, Int32(count), Int32(depth), stride, Int32(kp), pad, dst)
    case .columns(_, let stride):
      ck_q_pack_columns(x.codes + m0, Int32(depth), Int32(count), stride, Int32(kp), pad, dst)
    }
  }

  /// Runs `kernel` on packed activations with the weight panels split over threads.
  static func splitRows(
    _ w: QuantizedWeights, _ x: QuantizedActivations, _ packed: UnsafePointer<UInt8>, _ epilogue: KernelEpilogue,
    _ output: UnsafeMutableRawPointer, _ rowStride: Int, _ columnStride: Int, _ kernel: ck_q_gemm_fn, _ threads: Int?
  ) {
    let m = x.layout.count, kp = w.paddedDepth
    let scratchBytes = w.withC { ck_q_gemm_scratch_bytes($0) }
    withBias(epilogue.bias) { bias in
      var e = epilogue.c(bias: bias, y: output, rowStride: rowStride, columnStride: columnStride)
      var a = ck_q_activations(data: packed, m: Int32(m), scale: x.scale, zero: x.zero)
      w.withC { cw in
        withUnsafePointer(to: &a) { ap in
          withUnsafePointer(to: &e) { ep in
            // Equal, contiguous slices of the weights: one long stream per thread.
            Parallel.forEachRange(w.panels, costPerItem: 8 * m * kp, threads: threads, chunksPerThread: 1) { range in
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
