/// Element-wise functions as types, so the generic loops that apply them are specialized per
/// function (a stored closure would cost an indirect call per element).
protocol UnaryFunction {
  func callAsFunction(_ x: Float) -> Float
}

protocol BinaryFunction {
  func callAsFunction(_ a: Float, _ b: Float) -> Float
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

struct AddFunction: BinaryFunction { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a + b } }
struct SubFunction: BinaryFunction { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a - b } }
struct MulFunction: BinaryFunction { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a * b } }
struct DivFunction: BinaryFunction { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a / b } }

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

/// x for x ≥ 0, αx otherwise.
struct LeakyFunction: UnaryFunction {
  let alpha: Float
  @inline(__always) func callAsFunction(_ x: Float) -> Float { x < 0 ? alpha * x : x }
}
