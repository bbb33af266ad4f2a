import CKernels

/// Element-wise conversions between float32 and the stored precisions, vectorized and split over
/// cores for large tensors.
public enum ActivationCodes {
  /// q = clamp(round(x / scale) + zero, 0, 255), round half to even (ONNX QuantizeLinear).
  public static func quantize(
    _ x: UnsafePointer<Float>, count: Int, scale: Float, zero: Int32, into q: UnsafeMutablePointer<UInt8>,
    isa: KernelISA = .selected, threads: Int? = nil
  ) {
    let kernel = ck_quantize_u8_for(isa.c)!
    chunks(count, threads: threads) { r in kernel(x + r.lowerBound, r.count, scale, zero, q + r.lowerBound) }
  }

  /// The smallest and largest of `x` and 0 (the range DynamicQuantizeLinear quantizes); NaN is skipped.
  public static func range(_ x: UnsafePointer<Float>, count: Int, isa: KernelISA = .selected) -> (lo: Float, hi: Float) {
    var lo: Float = 0, hi: Float = 0
    ck_range_f32_for(isa.c)!(x, count, &lo, &hi)
    return (lo, hi)
  }

  /// Signed int8 activation codes as the kernels' uint8 codes: q + 128, with zero point z + 128
  /// (the same real values: s·(q − z) = s·((q + 128) − (z + 128))).
  public static func unsignedCodes(
    _ q: UnsafePointer<Int8>, count: Int, zero: Int32, into u: UnsafeMutablePointer<UInt8>
  ) -> Int32 {
    for i in 0..<count { u[i] = UInt8(bitPattern: q[i]) ^ 0x80 }
    return zero + 128
  }

  /// float32 → binary16, round to nearest even.
  public static func toHalf(
    _ x: UnsafePointer<Float>, count: Int, into h: UnsafeMutablePointer<UInt16>, isa: KernelISA = .selected,
    threads: Int? = nil
  ) {
    let kernel = ck_f32_to_f16_for(isa.c)!
    chunks(count, threads: threads) { r in kernel(x + r.lowerBound, r.count, h + r.lowerBound) }
  }

  /// binary16 → float32 (exact).
  public static func fromHalf(
    _ h: UnsafePointer<UInt16>, count: Int, into x: UnsafeMutablePointer<Float>, isa: KernelISA = .selected,
    threads: Int? = nil
  ) {
    let kernel = ck_f16_to_f32_for(isa.c)!
    chunks(count, threads: threads) { r in kernel(h + r.lowerBound, r.count, x + r.lowerBound) }
  }

  /// 64k-element chunks (cache-sized), in parallel when there are many.
  static func chunks(_ count: Int, threads: Int?, _ body: (Range<Int>) -> Void) {
    let size = 1 << 16
    Parallel.forEach((count + size - 1) / size, costPerItem: size / 8, threads: threads) { c in
      body((c * size)..<Swift.min((c + 1) * size, count))
    }
  }
}
