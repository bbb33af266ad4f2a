import GraphIR
import Kernels
import TensorCore

/// An activation applied to a convolution's or a MatMul's output, with the bias, while it is still
/// in cache — instead of more passes over the whole tensor by the nodes it replaces.
enum Epilogue: Sendable {
  case identity
  case clamp(lo: Float, hi: Float)  // Relu is clamp(0, +∞)
  case hardSwish
  case hardSigmoid(alpha: Float, beta: Float)
  case leakyRelu(alpha: Float)
  /// The erf GELU that exporters write as five nodes, in their order of operations:
  /// (x · (erf(x / divisor) + 1)) · half.
  case gelu(divisor: Float, half: Float)
  /// `first`, then a multiplication or an addition by a constant: a scalar Mul or Add after an
  /// activation (PP-OCRv4's learnable affine blocks), applied as its node would.
  indirect case then(Epilogue, ScalarStep)

  enum ScalarStep: Sendable, Equatable {
    case mul(Float), add(Float)
  }

  /// The epilogue equal to activation `node`, when its parameters are constants of `graph`.
  static func from(_ node: Node, in graph: Graph) -> Epilogue? {
    func scalar(_ i: Int) -> Float? {
      guard let name = node.input(i) else { return nil }
      guard let t = graph.initializers[name], t.count == 1 else { return .nan }
      return t.asFloats()[0]
    }
    switch node.opType {
    case "Relu": return .clamp(lo: 0, hi: .infinity)
    case "HardSwish": return .hardSwish
    case "HardSigmoid": return .hardSigmoid(alpha: node.float("alpha", default: 0.2), beta: node.float("beta", default: 0.5))
    case "LeakyRelu": return .leakyRelu(alpha: node.float("alpha", default: 0.01))
    case "Clip":
      if graph.opset < 11 {
        return .clamp(lo: node.float("min", default: -.infinity), hi: node.float("max", default: .infinity))
      }
      let lo = scalar(1) ?? -.infinity, hi = scalar(2) ?? .infinity
      return lo.isNaN || hi.isNaN ? nil : .clamp(lo: lo, hi: hi)
    default: return nil
    }
  }

  /// The bounds a kernel's store applies itself (a leading clamp), so `afterKernel` is left.
  var kernelClip: ClosedRange<Float>? {
    switch self {
    case .clamp(let lo, let hi) where lo <= hi: return lo...hi
    case .then(let first, _): return first.kernelClip
    default: return nil
    }
  }

  /// What is left to apply after a kernel that applied `kernelClip`.
  var afterKernel: Epilogue {
    switch self {
    case .clamp(let lo, let hi) where lo <= hi: return .identity
    case .then(let first, let step): return .then(first.afterKernel, step)
    default: return self
    }
  }

  var isIdentity: Bool {
    if case .identity = self { return true }
    return false
  }

  /// This epilogue followed by `step`.
  func followed(by step: ScalarStep) -> Epilogue { .then(self, step) }

  /// p[i] = activation(p[i] + bias) for i in 0..<count, on the C activation kernel (the bias
  /// added only when it is non-zero, as a kernel's store would leave −0 alone).
  func apply(_ p: UnsafeMutablePointer<Float>, count: Int, bias: Float) {
    let start = bias == 0 ? ActivationProgram() : ActivationProgram().appending(.add(bias))!
    Compiled(self, after: start).apply(p, count: count)
  }

  /// The epilogue's C program built once, for the many planes of one op.
  struct Compiled {
    let epilogue: Epilogue
    let program: ActivationProgram?

    init(_ epilogue: Epilogue, after start: ActivationProgram = ActivationProgram()) {
      self.epilogue = epilogue
      program = epilogue.program(after: start)
    }

    var isIdentity: Bool { program?.isEmpty ?? false }

    /// p[i] = activation(p[i]), or with the bias `start` added.
    @inline(__always)
    func apply(_ p: UnsafeMutablePointer<Float>, count: Int) {
      if let program {
        FloatKernels.activate(p, count: count, program)
      } else {
        epilogue.applyInSwift(p, count: count, bias: 0)
      }
    }
  }

  /// `apply` (no bias) over a whole tensor, in blocks split over the cores.
  func applyInParallel(_ p: UnsafeMutablePointer<Float>, count: Int) {
    guard !isIdentity, count > 0 else { return }
    let block = 1 << 14, compiled = Compiled(self)
    Parallel.forEach((count + block - 1) / block, costPerItem: block * 4) { b in
      compiled.apply(p + b * block, count: Swift.min(block, count - b * block))
    }
  }

  /// `start` followed by this epilogue's steps, or nil when they do not fit one program.
  func program(after start: ActivationProgram) -> ActivationProgram? {
    switch self {
    case .identity: return start
    case .clamp(let lo, let hi): return start.appending(.clamp(lo: lo, hi: hi))
    case .hardSwish: return start.appending(.hardSwish)
    case .hardSigmoid(let a, let b): return start.appending(.hardSigmoid(alpha: a, beta: b))
    case .leakyRelu(let a): return start.appending(.leakyRelu(alpha: a))
    case .gelu(let divisor, let half): return start.appending(.gelu(divisor: divisor, half: half))
    case .then(let first, let step):
      switch step {
      case .mul(let c): return first.program(after: start)?.appending(.mul(c))
      case .add(let c): return first.program(after: start)?.appending(.add(c))
      }
    }
  }

  /// The same in Swift, one element at a time: the formulas the C kernel must equal.
  func applyInSwift(_ p: UnsafeMutablePointer<Float>, count: Int, bias: Float) {
    if bias != 0 { for i in 0..<count { p[i] = p[i] + bias } }
    switch self {
    case .identity: break
    case .clamp(let lo, let hi): Epilogue.run(p, count, ClampFunction(lo: lo, hi: hi))
    case .hardSwish: Epilogue.run(p, count, HardSwishFunction())
    case .hardSigmoid(let a, let b): Epilogue.run(p, count, HardSigmoidFunction(alpha: a, beta: b))
    case .leakyRelu(let a): Epilogue.run(p, count, LeakyFunction(alpha: a))
    case .gelu(let divisor, let half): Epilogue.run(p, count, GeluNodesFunction(divisor: divisor, half: half))
    case .then(let first, let step):
      first.applyInSwift(p, count: count, bias: 0)
      switch step {
      case .mul(let c): for i in 0..<count { p[i] = p[i] * c }
      case .add(let c): for i in 0..<count { p[i] = p[i] + c }
      }
    }
  }

  private static func run<F: UnaryFunction>(_ p: UnsafeMutablePointer<Float>, _ count: Int, _ f: F) {
    for i in 0..<count { p[i] = f(p[i]) }
  }
}
