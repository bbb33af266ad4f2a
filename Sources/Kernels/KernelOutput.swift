import CKernels

/// What a quantized or half-precision layer writes.
public enum KernelOutput: Sendable, Equatable {
  case float32
  case float16
  /// Requantized: clamp(round(y / scale) + zero, 0, 255).
  case uint8(scale: Float, zero: Int32)
  /// Requantized: clamp(round(y / scale) + zero, −128, 127).
  case int8(scale: Float, zero: Int32)
  /// The raw integer sums Σ (x − z_a)·w (one scale group only; integer kernels only).
  case int32

  /// Bytes per element.
  public var elementBytes: Int {
    switch self {
    case .float32, .int32: 4
    case .float16: 2
    case .uint8, .int8: 1
    }
  }
}

/// The epilogue fused into every GEMM and convolution kernel:
///
///     y = clamp(real result + bias[n], clip.lower, clip.upper), then converted to `output`
public struct KernelEpilogue: Sendable {
  /// One per output channel, or nil.
  public var bias: [Float]?
  /// Bounds on the real-valued result (ReLU: 0...∞, ReLU6: 0...6), or nil.
  public var clip: ClosedRange<Float>?
  public var output: KernelOutput

  public init(bias: [Float]? = nil, clip: ClosedRange<Float>? = nil, output: KernelOutput = .float32) {
    self.bias = bias
    self.clip = clip
    self.output = output
  }

  /// The C epilogue writing to `y[n·rowStride + m·columnStride]`; `bias` must outlive the call.
  func c(bias: UnsafePointer<Float>?, y: UnsafeMutableRawPointer, rowStride: Int, columnStride: Int) -> ck_q_epilogue {
    var e = ck_q_epilogue()
    e.bias = bias
    e.clip_lo = clip?.lowerBound ?? -.infinity
    e.clip_hi = clip?.upperBound ?? .infinity
    e.y = y
    e.row_stride = rowStride
    e.col_stride = columnStride
    switch output {
    case .float32: e.type = CK_OUT_F32
    case .float16: e.type = CK_OUT_F16
    case .int32: e.type = CK_OUT_I32
    case .uint8(let scale, let zero):
      e.type = CK_OUT_U8
      e.out_inv_scale = 1 / scale
      e.out_zero = zero
    case .int8(let scale, let zero):
      e.type = CK_OUT_S8
      e.out_inv_scale = 1 / scale
      e.out_zero = zero
    }
    return e
  }
}

/// Memory aligned for the vector kernels (64 bytes), freed when the owner goes.
public final class AlignedBuffer: @unchecked Sendable {
  public let raw: UnsafeMutableRawPointer
  public let bytes: Int

  public init(bytes: Int) {
    MemoryTuning.apply()  // freed buffers stay in the heap: no fresh pages (and faults) per call
    self.bytes = bytes
    raw = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(bytes, 1) + 64, alignment: 64)
  }

  deinit { raw.deallocate() }
}
