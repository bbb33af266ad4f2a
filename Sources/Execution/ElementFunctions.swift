import Kernels

/// Element-wise functions as types, so the generic loops that apply them are specialized per
/// function (a stored closure would cost an indirect call per element).
protocol UnaryFunction {
  func callAsFunction(_ x: Float) -> Float
}

protocol BinaryFunction {
  func callAsFunction(_ a: Float, _ b: Float) -> Float
  /// The C row kernel computing the same IEEE operation, if there is one.
  static var kernelOp: FloatKernels.BinaryOp? { get }
}

extension BinaryFunction {
  static var kernelOp: FloatKernels.BinaryOp? { nil }
}

/// A closure as a unary function, for ops whose own cost (exp, erf, …) hides the call.
struct ClosureUnary: UnaryFunction {
  let f: (Float) -> Float
  @inline(__always) func callAsFunction(_ x: Float) -> Float { f(x) }
}

struct ClosureBinary: BinaryFunction {
  let f: (Float, Float) -> Float
  @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { f(a, b) }
}

struct AddFunction: BinaryFunction {
  static var kernelOp: FloatKernels.BinaryOp? { .add }
  @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a + b }
}
struct SubFunction: BinaryFunction {
  static var kernelOp: FloatKernels.BinaryOp? { .sub }
  @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a - b }
}
struct MulFunction: BinaryFunction {
  static var kernelOp: FloatKernels.BinaryOp? { .mul }
  @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a * b }
}
struct DivFunction: BinaryFunction {
  static var kernelOp: FloatKernels.BinaryOp? { .div }
  @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a / b }
}

/// min(max(x, lo), hi); Relu is lo = 0, hi = +∞.
struct ClampFunction: UnaryFunction {
  let lo: Float, hi: Float
  @inline(__always) func callAsFunction(_ x: Float) -> Float { Swift.min(Swift.max(x, lo), hi) }
}

/// clamp(αx + β, 0, 1).
struct HardSigmoidFunction: UnaryFunction {
  let alpha: Float, beta: Float
  @inline(__always) func callAsFunction(_ x: Float) -> Float { Swift.max(0, Swift.min(1, alpha * x + beta)) }
}

/// x · clamp(x/6 + 1/2, 0, 1), evaluated as x · clip(x + 3, 0, 6) / 6 — the form exporters
/// decompose it into — so a fused HardSwish rounds exactly like the four nodes it replaced.
struct HardSwishFunction: UnaryFunction {
  @inline(__always) func callAsFunction(_ x: Float) -> Float { x * Swift.min(Swift.max(x + 3, 0), 6) / 6 }
}

/// (x · (erf(x / divisor) + 1)) · half: the five nodes of an exported erf GELU (Div, Erf, Add,
/// Mul, Mul), each rounding as its node does.
struct GeluNodesFunction: UnaryFunction {
  let divisor: Float, half: Float
  @inline(__always) func callAsFunction(_ x: Float) -> Float { (x * (ErfFunction()(x / divisor) + 1)) * half }
}

/// x for x ≥ 0, αx otherwise.
struct LeakyFunction: UnaryFunction {
  let alpha: Float
  @inline(__always) func callAsFunction(_ x: Float) -> Float { x < 0 ? alpha * x : x }
}

/// erf(x) as x·P(x²)/Q(x²) on x clamped to [−4, 4] (beyond, erf is ±1 in float32): an odd
/// degree-13 numerator over an even degree-8 denominator, the minimax form Eigen and XLA use for
/// float32. Branch-free, so the map loop vectorizes (glibc's erff costs ~9 ns an element);
/// within 5e-7 (4 ULP of 1) of libm's erff (ElementwiseTests).
struct ErfFunction: UnaryFunction {
  @inline(__always) func callAsFunction(_ v: Float) -> Float {
    let x = Swift.min(Swift.max(v, -4), 4), x2 = x * x
    var p: Float = -2.72614225801306e-10
    p = p * x2 + 2.77068142495902e-08
    p = p * x2 - 2.10102402082508e-06
    p = p * x2 - 5.69250639462346e-05
    p = p * x2 - 7.34990630326855e-04
    p = p * x2 - 2.95459980854025e-03
    p = p * x2 - 1.60960333262415e-02
    var q: Float = -1.45660718464996e-05
    q = q * x2 - 2.13374055278905e-04
    q = q * x2 - 1.68282697438203e-03
    q = q * x2 - 7.37332916720468e-03
    q = q * x2 - 1.42647390514189e-02
    return v.isNaN ? v : x * p / q
  }
}
