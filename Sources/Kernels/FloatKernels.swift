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

  /// Softmax (or log-softmax) of `rows` contiguous rows of `length` floats of `x` into `y` (which
  /// may be `x`: in place).
  public static func softmaxRows(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, rows: Int, length: Int,
                                 log: Bool, isa: KernelISA = .selected) {
    ck_softmax_f32_for(isa.c)!(x, y, rows, length, log ? 1 : 0)
  }
}

/// A program of element-wise steps for `ck_activate_f32` (its header gives each step's formula).
public struct ActivationProgram: Sendable {
  public enum Step: Sendable, Equatable {
    case add(Float), mul(Float), clamp(lo: Float, hi: Float), hardSwish, hardSigmoid(alpha: Float, beta: Float)
    case leakyRelu(alpha: Float), gelu(divisor: Float, half: Float)
  }

  public static let maxSteps = Int(CK_ACT_MAX_STEPS)
  var c = ck_act_program()

  public init() {}

  /// The program with `step` appended, or nil when it would hold more than `maxSteps`.
  public func appending(_ step: Step) -> ActivationProgram? {
    guard Int(c.count) < Self.maxSteps else { return nil }
    var s = ck_act_step()
    switch step {
    case .add(let a): s.op = Int32(CK_ACT_ADD.rawValue); s.a = a
    case .mul(let a): s.op = Int32(CK_ACT_MUL.rawValue); s.a = a
    case .clamp(let lo, let hi): s.op = Int32(CK_ACT_CLAMP.rawValue); s.a = lo; s.b = hi
    case .hardSwish: s.op = Int32(CK_ACT_HARDSWISH.rawValue)
    case .hardSigmoid(let alpha, let beta): s.op = Int32(CK_ACT_HARDSIGMOID.rawValue); s.a = alpha; s.b = beta
    case .leakyRelu(let alpha): s.op = Int32(CK_ACT_LEAKY.rawValue); s.a = alpha
    case .gelu(let divisor, let half): s.op = Int32(CK_ACT_GELU.rawValue); s.a = divisor; s.b = half
    }
    var next = self
    withUnsafeMutableBytes(of: &next.c.steps) { raw in
      raw.baseAddress!.assumingMemoryBound(to: ck_act_step.self)[Int(c.count)] = s
    }
    next.c.count += 1
    return next
  }

  public var isEmpty: Bool { c.count == 0 }
}

extension FloatKernels {
  /// Applies `program` in place to `count` floats (scalar twin: `ck_activate_f32_ref`).
  public static func activate(_ x: UnsafeMutablePointer<Float>, count: Int, _ program: ActivationProgram,
                              isa: KernelISA = .selected) {
    guard count > 0, !program.isEmpty else { return }
    withUnsafePointer(to: program.c) { ck_activate_f32_for(isa.c)!(x, count, $0) }
  }
}

extension FloatKernels {
  /// The operations `binaryRow` runs.
  public enum BinaryOp: Int32, Sendable {
    case add = 0, sub = 1, mul = 2, div = 3
  }

  /// y[j] = a[j·aStep] op b[j·bStep] for j in 0..<n, steps 0 or 1 (scalar twin: `ck_binary_f32_ref`).
  @inline(__always)
  public static func binaryRow(_ op: BinaryOp, _ y: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, aStep: Int,
                               _ b: UnsafePointer<Float>, bStep: Int, count n: Int, isa: KernelISA = .selected) {
    ck_binary_f32_for(isa.c)!(op.rawValue, y, a, Int32(aStep), b, Int32(bStep), n)
  }
}

extension FloatKernels {
  /// One plane of a max or average pool (average over the taps inside; scalar twin:
  /// `ck_pool_f32_ref`, whose header gives the order of operations).
  @inline(__always)
  public static func poolPlane(_ x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>, window: ConvWindow,
                               max isMax: Bool, isa: KernelISA = .selected) {
    var g = window.c
    ck_pool_f32_for(isa.c)!(x, y, &g, isMax ? 1 : 0)
  }

  /// The max or mean of each of `rows` rows of `length` floats (scalar twin: `ck_global_pool_f32_ref`).
  public static func globalPool(_ x: UnsafePointer<Float>, rows: Int, length: Int, output y: UnsafeMutablePointer<Float>,
                                max isMax: Bool, isa: KernelISA = .selected) {
    ck_global_pool_f32_for(isa.c)!(x, rows, length, y, isMax ? 1 : 0)
  }
}

extension FloatKernels {
  /// Each row's mean and 1/√(variance + ε) (scalar twin: `ck_row_moments_f32_ref`, whose header
  /// gives the order of the sums).
  public static func rowMoments(_ x: UnsafePointer<Float>, rows: Int, length: Int, epsilon: Float,
                                means: UnsafeMutablePointer<Float>, invs: UnsafeMutablePointer<Float>,
                                isa: KernelISA = .selected) {
    ck_row_moments_f32_for(isa.c)!(x, rows, length, epsilon, means, invs)
  }

  /// In place: x = ((x − mean) · inv) · γ + β per row (scalar twin: `ck_normalize_rows_f32_ref`).
  public static func normalizeRows(_ x: UnsafeMutablePointer<Float>, rows: Int, length: Int,
                                   means: UnsafePointer<Float>, invs: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                                   beta: UnsafePointer<Float>?, isa: KernelISA = .selected) {
    ck_normalize_rows_f32_for(isa.c)!(x, x, rows, length, means, invs, gamma, beta)
  }

  /// The same into a separate `output` (not overlapping `x`).
  public static func normalizeRows(_ x: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, rows: Int,
                                   length: Int, means: UnsafePointer<Float>, invs: UnsafePointer<Float>,
                                   gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>?, isa: KernelISA = .selected) {
    ck_normalize_rows_f32_for(isa.c)!(x, output, rows, length, means, invs, gamma, beta)
  }
}
