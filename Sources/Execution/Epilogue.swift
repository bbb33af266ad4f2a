import GraphIR
import TensorCore

/// An activation applied to a convolution's output plane, with the bias, while the plane is still
/// in cache — instead of another pass over the whole tensor by the activation node.
enum Epilogue: Sendable {
  case identity
  case clamp(lo: Float, hi: Float)  // Relu is clamp(0, +∞)
  case hardSwish
  case hardSigmoid(alpha: Float, beta: Float)
  case leakyRelu(alpha: Float)

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

  /// p[i] = activation(p[i] + bias) for i in 0..<count.
  @inline(__always)
  func apply(_ p: UnsafeMutablePointer<Float>, count: Int, bias: Float) {
    switch self {
    case .identity: if bias != 0 { Epilogue.run(p, count, bias, ClampFunction(lo: -.infinity, hi: .infinity)) }
    case .clamp(let lo, let hi): Epilogue.run(p, count, bias, ClampFunction(lo: lo, hi: hi))
    case .hardSwish: Epilogue.run(p, count, bias, HardSwishFunction())
    case .hardSigmoid(let a, let b): Epilogue.run(p, count, bias, HardSigmoidFunction(alpha: a, beta: b))
    case .leakyRelu(let a): Epilogue.run(p, count, bias, LeakyFunction(alpha: a))
    }
  }

  private static func run<F: UnaryFunction>(_ p: UnsafeMutablePointer<Float>, _ count: Int, _ bias: Float, _ f: F) {
    for i in 0..<count { p[i] = f(p[i] + bias) }
  }
}
