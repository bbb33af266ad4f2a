import GraphIR
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

  /// p[i] = activation(p[i] + bias) for i in 0..<count.
  @inline(__always)
  func apply(_ p: UnsafeMutablePointer<Float>, count: Int, bias: Float) {
    switch self {
    case .identity: if bias != 0 { Epilogue.run(p, count, bias, ClampFunction(lo: -.infinity, hi: .infinity)) }
    case .clamp(let lo, let hi): Epilogue.run(p, count, bias, ClampFunction(lo: lo, hi: hi))
    case .hardSwish: Epilogue.run(p, count, bias, HardSwishFunction())
    case .hardSigmoid(let a, let b): Epilogue.run(p, count, bias, HardSigmoidFunction(alpha: a, beta: b))
    case .leakyRelu(let a): Epilogue.run(p, count, bias, LeakyFunction(alpha: a))
    case .gelu(let divisor, let half): Epilogue.run(p, count, bias, GeluNodesFunction(divisor: divisor, half: half))
    case .then(let first, let step):
      first.apply(p, count: count, bias: bias)
      switch step {
      case .mul(let c): for i in 0..<count { p[i] = p[i] * c }
      case .add(let c): for i in 0..<count { p[i] = p[i] + c }
      }
    }
  }

  private static func run<F: UnaryFunction>(_ p: UnsafeMutablePointer<Float>, _ count: Int, _ bias: Float, _ f: F) {
    for i in 0..<count { p[i] = f(p[i] + bias) }
  }
}
