import Foundation
import GraphIR
import TensorCore

/// Activation functions (their attributes as ONNX defines them).
enum ActivationOps {
  static let kernels: [String: OpKernel] = [
    "Relu": { node, inputs, _ in
      let x = try inputs.required(0, node)
      if !x.dtype.isFloatingPoint { return [Tensor(shape: x.shape, ints: x.asInts().map { Swift.max($0, 0) }, dtype: x.dtype)] }
      return [try UnaryOps.map(node, x, ClampFunction(lo: 0, hi: .infinity))]
    },
    "Sigmoid": UnaryOps.float { 1 / (1 + expf(-$0)) },
    "LeakyRelu": { node, inputs, _ in
      let a = node.float("alpha", default: 0.01)
      return [try UnaryOps.map(node, try inputs.required(0, node), LeakyFunction(alpha: a))]
    },
    "Elu": { node, inputs, _ in
      let a = node.float("alpha", default: 1)
      return [try UnaryOps.map(node, try inputs.required(0, node)) { $0 < 0 ? a * (expf($0) - 1) : $0 }]
    },
    "Softplus": UnaryOps.float { $0 > 20 ? $0 : log1pf(expf($0)) },
    "HardSigmoid": { node, inputs, _ in
      let a = node.float("alpha", default: 0.2), b = node.float("beta", default: 0.5)
      return [try UnaryOps.map(node, try inputs.required(0, node), HardSigmoidFunction(alpha: a, beta: b))]
    },
    "HardSwish": { node, inputs, _ in
      [try UnaryOps.map(node, try inputs.required(0, node), HardSwishFunction())]
    },
    "Gelu": { node, inputs, _ in
      let x = try inputs.required(0, node)
      if node.string("approximate") == "tanh" {
        let c = Float((2 / Double.pi).squareRoot())
        return [try UnaryOps.map(node, x) { 0.5 * $0 * (1 + tanhf(c * ($0 + 0.044715 * $0 * $0 * $0))) }]
      }
      return [try UnaryOps.map(node, x) { 0.5 * $0 * (1 + erff($0 * Float(0.5.squareRoot()))) }]
    },
    "Clip": { node, inputs, opset in
      let x = try inputs.required(0, node)
      var lo: Float = -.infinity, hi: Float = .infinity
      if opset < 11 {
        lo = node.float("min", default: -.infinity)
        hi = node.float("max", default: .infinity)
      } else {
        if let m = inputs.optional(1), m.count == 1 { lo = m.asFloats()[0] }
        if let m = inputs.optional(2), m.count == 1 { hi = m.asFloats()[0] }
      }
      if !x.dtype.isFloatingPoint {
        let l = lo.isFinite ? Int64(lo) : Int64.min, h = hi.isFinite ? Int64(hi) : Int64.max
        return [Tensor(shape: x.shape, ints: x.asInts().map { Swift.min(Swift.max($0, l), h) }, dtype: x.dtype)]
      }
      return [try UnaryOps.map(node, x, ClampFunction(lo: lo, hi: hi))]
    },
  ]
}
