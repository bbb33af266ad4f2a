import GraphIR
import TensorCore

/// Ops that create tensors: Constant, ConstantOfShape, Range.
enum GeneratorOps {
  static let kernels: [String: OpKernel] = [
    "Constant": { node, _, _ in
      var g = Graph(nodes: [node], inputs: [], outputs: [])
      try g.hoistConstants()
      guard let t = g.initializers[node.outputs[0]] else { throw opError(node, "no value") }
      return [t]
    },
    "ConstantOfShape": { node, inputs, _ in
      let shape = try inputs.required(0, node).asInts().map { Int($0) }
      guard shape.allSatisfy({ $0 >= 0 }) else { throw opError(node, "negative shape \(shape)") }
      let value = node.tensor("value") ?? Tensor(shape: [1], floats: [0])
      guard value.count == 1 else { throw opError(node, "value must hold one element") }
      let n = shape.reduce(1, *)
      switch value.storage {
      case .float(let v): return [Tensor(dtype: value.dtype, shape: shape, storage: .float(.init(repeating: v[0], count: n)))]
      case .int(let v): return [Tensor(dtype: value.dtype, shape: shape, storage: .int(.init(repeating: v[0], count: n)))]
      case .bool(let v): return [Tensor(shape: shape, bools: .init(repeating: v[0], count: n))]
      }
    },
    "Range": { node, inputs, _ in
      let start = try inputs.required(0, node), limit = try inputs.required(1, node), delta = try inputs.required(2, node)
      if start.dtype.isFloatingPoint {
        let s = start.asFloats()[0], l = limit.asFloats()[0], d = delta.asFloats()[0]
        guard d != 0 else { throw opError(node, "delta is 0") }
        let n = Swift.max(Int((Double(l - s) / Double(d)).rounded(.up)), 0)
        return [Tensor(dtype: start.dtype, shape: [n], storage: .float((0..<n).map { s + Float($0) * d }))]
      }
      let s = start.asInts()[0], l = limit.asInts()[0], d = delta.asInts()[0]
      guard d != 0 else { throw opError(node, "delta is 0") }
      let n = Swift.max(Int((Double(l - s) / Double(d)).rounded(.up)), 0)
      return [Tensor(shape: [n], ints: (0..<n).map { s + Int64($0) * d }, dtype: start.dtype)]
    },
  ]
}
