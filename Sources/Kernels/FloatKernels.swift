import CKernels

/// The FP32 depthwise convolution and softmax kernels (C, a scalar `_ref` twin and an AVX2+FMA
/// copy each, chosen for `isa`; an unsupported set falls back to the twin).
public enum FloatKernels {
  /// Scratch floats one depthwise plane with `window` needs (0 when it needs none).
  public static func depthwiseScratchFloats(_ window: ConvWindow) -> Int {
    var g = window.c
    return Int(ck_depthwise_f32_scratch_floats(&g))
  }

  /// One output plane of a depthwise convolution (`ck_depthwise_f32_ref` is the formula):
  ///
  ///     y[oh][ow] = bias + Σ_kh Σ_kw w[kh][kw] · x[oh·sh − pt + kh·dh][ow·sw − pl + kw·dw]   (x = 0 outside)
  ///
  /// - Parameters:
  ///   - x: one input plane, inH × inW; `w`: kH × kW taps; `y`: outH × outW.
  ///   - scratch: at least `depthwiseScratchFloats(window)` floats, reused across planes.
  public static func depthwisePlane(_ x: UnsafePointer<Float>, weights w: UnsafePointer<Float>, bias: Float,
                                    output y: UnsafeMutablePointer<Float>, window: ConvWindow,
                                    scratch: UnsafeMutablePointer<Float>?, isa: KernelISA = .selected) {
    var g = window.c
    ck_depthwise_f32_for(isa.c)!(x, w, bias, y, &g, scratch)
  }

  /// Softmax (or log-softmax) of `rows` contiguous rows of `length` floats, in place.
  public static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, length: Int, log: Bool,
                                 isa: KernelISA = .selected) {
    ck_softmax_f32_for(isa.c)!(x, rows, length, log ? 1 : 0)
  }
}
