import Foundation
import Kernels
import GraphIR
import TensorCore

/// Gradients of the element-wise ops: broadcasting arithmetic, Pow with a constant exponent,
/// unary math and the activations (HardSigmoid and HardSwish included).
enum ElementwiseVJPs {
  static let rules: [String: VJP] = {
    var r: [String: VJP] = [
      "Add": { c in additive(c, sign: 1) },
      "Sub": { c in additive(c, sign: -1) },
      "Mul": { c in try binary(c) { g, a, b in (g * b, g * a) } },
      // y = x < 0 ? x·s : x (s broadcast, e.g. one slope per channel).
      "PRelu": { c in try binary(c) { g, x, s in x < 0 ? (g * s, g * x) : (g, 0) } },
      "Div": { c in try binary(c) { g, a, b in (g / b, -g * a / (b * b)) } },
      "Pow": { c in
        if c.need(1) { throw c.unsupported("with respect to the exponent (only constant exponents)") }
        return try binary(c) { g, a, b in (b == 2 ? 2 * a * g : g * b * powf(a, b - 1), 0) }
      },
      "Clip": { c in
        var lo: Float = -.infinity, hi: Float = .infinity
        if c.opset < 11 {
          lo = c.node.float("min", default: -.infinity)
          hi = c.node.float("max", default: .infinity)
        } else {
          if let m = c.inputs.count > 1 ? c.inputs[1] : nil, m.count == 1 { lo = m.asFloats()[0] }
          if let m = c.inputs.count > 2 ? c.inputs[2] : nil, m.count == 1 { hi = m.asFloats()[0] }
        }
        return try unary(c) { x, _ in x > lo && x < hi ? 1 : 0 }
      },
      "LeakyRelu": { c in
        let a = c.node.float("alpha", default: 0.01)
        return try unary(c) { x, _ in x < 0 ? a : 1 }
      },
      "Elu": { c in
        let a = c.node.float("alpha", default: 1)
        return try unary(c) { x, y in x < 0 ? y + a : 1 }
      },
      "HardSigmoid": { c in
        let a = c.node.float("alpha", default: 0.2), b = c.node.float("beta", default: 0.5)
        return try unary(c) { x, _ in let t = a * x + b; return t > 0 && t < 1 ? a : 0 }
      },
      "Gelu": { c in
        if c.node.string("approximate") == "tanh" {
          let k = Float((2 / Double.pi).squareRoot())
          return try unary(c) { x, _ in
            let u = k * (x + 0.044715 * x * x * x), t = tanhf(u)
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x)
          }
        }
        return try unary(c) { x, _ in
          0.5 * (1 + erff(x * Float(0.5.squareRoot()))) + x * expf(-0.5 * x * x) * Float(1 / (2 * Double.pi).squareRoot())
        }
      },
    ]
    // Each derivative is a closure literal at its call, so `unary` is specialized per op.
    r["Relu"] = { c in try unary(c) { x, _ in x > 0 ? 1 : 0 } }
    r["Sigmoid"] = { c in try unary(c) { _, y in y * (1 - y) } }
    r["Tanh"] = { c in try unary(c) { _, y in 1 - y * y } }
    r["Exp"] = { c in try unary(c) { _, y in y } }
    r["Log"] = { c in try unary(c) { x, _ in 1 / x } }
    r["Sqrt"] = { c in try unary(c) { _, y in 0.5 / y } }
    r["Neg"] = { c in try unary(c) { _, _ in -1 } }
    r["Abs"] = { c in try unary(c) { x, _ in x > 0 ? 1 : (x < 0 ? -1 : 0) } }
    r["Reciprocal"] = { c in try unary(c) { _, y in -y * y } }
    r["Erf"] = { c in try unary(c) { x, _ in Float(2 / Double.pi.squareRoot()) * expf(-x * x) } }
    r["Sin"] = { c in try unary(c) { x, _ in cosf(x) } }
    r["Cos"] = { c in try unary(c) { x, _ in -sinf(x) } }
    r["Softplus"] = { c in try unary(c) { x, _ in 1 / (1 + expf(-x)) } }
    r["HardSwish"] = { c in try unary(c) { x, _ in x < -3 ? 0 : (x > 3 ? 1 : (2 * x + 3) / 6) } }
    r["Identity"] = { c in [c.grad] }
    r["Dropout"] = { c in [c.grad] + [[Float]?](repeating: nil, count: max(c.inputs.count - 1, 0)) }
    r["Cast"] = { c in
      guard let to = c.outputs.first, to.dtype.isFloatingPoint, c.inputs.first??.dtype.isFloatingPoint == true else {
        throw c.unsupported("through a cast to or from a non-floating type")
      }
      return [c.grad]
    }
    return r
  }()

  /// dx = dy · f′(x, y) for an op of one floating input (large tensors split over the cores).
  @inline(__always)
  static func unary(_ c: VJPContext, _ derivative: (Float, Float) -> Float) throws -> [[Float]?] {
    let x = try c.floats(0)
    guard case .float(let y) = c.outputs[0].storage else { throw c.unsupported("for a non-floating output") }
    let g = c.grad
    var dx = [Float](repeating: 0, count: x.count)
    x.withUnsafeBufferPointer { px in y.withUnsafeBufferPointer { py in g.withUnsafeBufferPointer { pg in
      dx.withUnsafeMutableBufferPointer { pd in
        let xb = px.baseAddress, yb = py.baseAddress, gb = pg.baseAddress, db = pd.baseAddress
        withoutActuallyEscaping(derivative) { f in
          Parallel.forEachRange(x.count, costPerItem: 4, chunksPerThread: 1) { range in
            guard let xb, let yb, let gb, let db else { return }
            for i in range { db[i] = gb[i] * f(xb[i], yb[i]) }
          }
        }
      }
    } } }
    return [dx] + [[Float]?](repeating: nil, count: max(c.inputs.count - 1, 0))
  }

  /// Add/Sub: each operand's cotangent is ±dy summed onto its shape.
  static func additive(_ c: VJPContext, sign: Float) -> [[Float]?] {
    let out = c.outputs[0].shape, g = c.grad
    return [c.need(0) ? unbroadcast(g, from: out, to: c.shape(0)) : nil,
            c.need(1) ? unbroadcast(sign == 1 ? g : g.map { -$0 }, from: out, to: c.shape(1)) : nil]
  }

  /// Cotangents of a broadcasting binary op: `partials(g, a, b)` gives (g·∂f/∂a, g·∂f/∂b) at one
  /// output position; each is summed back onto its operand's shape.
  static func binary(_ c: VJPContext, _ partials: (Float, Float, Float) -> (Float, Float)) throws -> [[Float]?] {
    let a = try c.floats(0), b = try c.floats(1)
    let out = c.outputs[0].shape
    let av = broadcasted(a, c.shape(0), to: out), bv = broadcasted(b, c.shape(1), to: out)
    let g = c.grad
    var ga = [Float](repeating: 0, count: c.need(0) ? g.count : 0), gb = [Float](repeating: 0, count: c.need(1) ? g.count : 0)
    switch (c.need(0), c.need(1)) {
    case (true, true): for i in 0..<g.count { (ga[i], gb[i]) = partials(g[i], av[i], bv[i]) }
    case (true, false): for i in 0..<g.count { ga[i] = partials(g[i], av[i], bv[i]).0 }
    case (false, true): for i in 0..<g.count { gb[i] = partials(g[i], av[i], bv[i]).1 }
    case (false, false): break
    }
    return [c.need(0) ? unbroadcast(ga, from: out, to: c.shape(0)) : nil,
            c.need(1) ? unbroadcast(gb, from: out, to: c.shape(1)) : nil]
  }
}
