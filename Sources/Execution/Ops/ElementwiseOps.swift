import Foundation
import GraphIR
import TensorCore

/// Binary arithmetic, comparisons, logic, Where and the variadic Sum/Mean/Max/Min, all with
/// multidirectional broadcasting.
enum ElementwiseOps {
  static let kernels: [String: OpKernel] = [
    "Add": arithmetic(.add),
    "Sub": arithmetic(.sub),
    "Mul": arithmetic(.mul),
    "Div": arithmetic(.div),
    "Pow": { node, inputs, _ in
      let a = try inputs.required(0, node), b = try inputs.required(1, node)
      if a.dtype.isInteger {
        return [try integerBinary(node, a, b) { x, y in y < 0 ? 0 : Int64(pow(Double(x), Double(y))) }]
      }
      let bf = b.asFloats()
      if bf.count == 1 && bf[0] == 2 { return [try floatBinary(node, a, Tensor(shape: b.shape, floats: bf)) { x, _ in x * x }] }
      return [try floatBinary(node, a, Tensor(shape: b.shape, floats: bf)) { powf($0, $1) }]
    },
    "Mod": { node, inputs, _ in
      let a = try inputs.required(0, node), b = try inputs.required(1, node)
      if a.dtype.isInteger {
        let fmod = node.int("fmod", default: 0) == 1
        return [try integerBinary(node, a, b) { x, y in
          if y == 0 { return 0 }
          let r = x % y
          return fmod || r == 0 || (r < 0) == (y < 0) ? r : r + y
        }]
      }
      return [try floatBinary(node, a, b) { fmodf($0, $1) }]
    },
    "PRelu": { node, inputs, _ in
      [try floatBinary(node, try inputs.required(0, node), try inputs.required(1, node)) { x, s in x < 0 ? x * s : x }]
    },
    "Equal": compare({ $0 == $1 }, { $0 == $1 }),
    "Less": compare({ $0 < $1 }, { $0 < $1 }),
    "LessOrEqual": compare({ $0 <= $1 }, { $0 <= $1 }),
    "Greater": compare({ $0 > $1 }, { $0 > $1 }),
    "GreaterOrEqual": compare({ $0 >= $1 }, { $0 >= $1 }),
    "And": logic { $0 && $1 },
    "Or": logic { $0 || $1 },
    "Xor": logic { $0 != $1 },
    "Where": { node, inputs, _ in [try whereOp(node, inputs)] },
    "Sum": variadic({ $0 + $1 }, { $0 &+ $1 }, mean: false),
    "Mean": variadic({ $0 + $1 }, { $0 &+ $1 }, mean: true),
    "Max": variadic({ Swift.max($0, $1) }, { Swift.max($0, $1) }, mean: false),
    "Min": variadic({ Swift.min($0, $1) }, { Swift.min($0, $1) }, mean: false),
  ]

  static func outShape(_ node: Node, _ shapes: [[Int]]) throws -> [Int] {
    guard let s = Broadcast.shape(shapes) else {
      throw opError(node, "shapes \(shapes.map { "\($0)" }.joined(separator: " and ")) do not broadcast")
    }
    return s
  }

  static func floatBinary<F: BinaryFunction>(_ node: Node, _ a: Tensor, _ b: Tensor, _ op: F) throws -> Tensor {
    let out = try outShape(node, [a.shape, b.shape])
    let values = Broadcast.binary(try a.floatValues(node), a.shape, try b.floatValues(node), b.shape, out: out, op)
    return Tensor(dtype: a.dtype, shape: out, storage: .float(values))
  }

  /// Applies a closure under broadcasting (for ops outside the hot set).
  static func floatBinary(_ node: Node, _ a: Tensor, _ b: Tensor, _ op: (Float, Float) -> Float) throws -> Tensor {
    try withoutActuallyEscaping(op) { try floatBinary(node, a, b, ClosureBinary(f: $0)) }
  }

  static func integerBinary(_ node: Node, _ a: Tensor, _ b: Tensor, _ op: (Int64, Int64) -> Int64) throws -> Tensor {
    let out = try outShape(node, [a.shape, b.shape])
    let x = a.asInts(), y = b.asInts()
    let ia = Broadcast.indices(a.shape, to: out), ib = Broadcast.indices(b.shape, to: out)
    let values = (0..<ia.count).map { a.dtype.wrap(op(x[ia[$0]], y[ib[$0]])) }
    return Tensor(dtype: a.dtype, shape: out, storage: .int(values))
  }

  /// The four arithmetic ops, dispatched once per call so each inner loop is specialized.
  enum Arithmetic: Sendable { case add, sub, mul, div }

  static func arithmetic(_ op: Arithmetic) -> OpKernel {
    return { node, inputs, _ in
      let a = try inputs.required(0, node), b = try inputs.required(1, node)
      guard a.dtype.isFloatingPoint == b.dtype.isFloatingPoint else {
        throw opError(node, "mixed element types \(a.dtype) and \(b.dtype)")
      }
      if a.dtype.isFloatingPoint {
        switch op {
        case .add: return [try floatBinary(node, a, b, AddFunction())]
        case .sub: return [try floatBinary(node, a, b, SubFunction())]
        case .mul: return [try floatBinary(node, a, b, MulFunction())]
        case .div: return [try floatBinary(node, a, b, DivFunction())]
        }
      }
      switch op {
      case .add: return [try integerBinary(node, a, b) { $0 &+ $1 }]
      case .sub: return [try integerBinary(node, a, b) { $0 &- $1 }]
      case .mul: return [try integerBinary(node, a, b) { $0 &* $1 }]
      case .div: return [try integerBinary(node, a, b) { $1 == 0 ? 0 : $0 / $1 }]
      }
    }
  }

  static func compare(_ f: @escaping @Sendable (Float, Float) -> Bool,
                      _ i: @escaping @Sendable (Int64, Int64) -> Bool) -> OpKernel {
    return { node, inputs, _ in
      let a = try inputs.required(0, node), b = try inputs.required(1, node)
      let out = try outShape(node, [a.shape, b.shape])
      let ia = Broadcast.indices(a.shape, to: out), ib = Broadcast.indices(b.shape, to: out)
      let values: [Bool]
      if a.dtype.isFloatingPoint || b.dtype.isFloatingPoint {
        let x = a.asFloats(), y = b.asFloats()
        values = (0..<ia.count).map { f(x[ia[$0]], y[ib[$0]]) }
      } else {
        let x = a.asInts(), y = b.asInts()
        values = (0..<ia.count).map { i(x[ia[$0]], y[ib[$0]]) }
      }
      return [Tensor(shape: out, bools: values)]
    }
  }

  static func logic(_ f: @escaping @Sendable (Bool, Bool) -> Bool) -> OpKernel {
    return { node, inputs, _ in
      let a = try inputs.required(0, node), b = try inputs.required(1, node)
      guard a.dtype == .bool, b.dtype == .bool else { throw opError(node, "expects bool inputs, got \(a.dtype), \(b.dtype)") }
      let out = try outShape(node, [a.shape, b.shape])
      let ia = Broadcast.indices(a.shape, to: out), ib = Broadcast.indices(b.shape, to: out)
      let x = a.bools, y = b.bools
      return [Tensor(shape: out, bools: (0..<ia.count).map { f(x[ia[$0]], y[ib[$0]]) })]
    }
  }

  static func whereOp(_ node: Node, _ inputs: [Tensor?]) throws -> Tensor {
    let c = try inputs.required(0, node), x = try inputs.required(1, node), y = try inputs.required(2, node)
    guard c.dtype == .bool else { throw opError(node, "condition must be bool, got \(c.dtype)") }
    let out = try outShape(node, [c.shape, x.shape, y.shape])
    let ic = Broadcast.indices(c.shape, to: out), ix = Broadcast.indices(x.shape, to: out)
    let iy = Broadcast.indices(y.shape, to: out)
    let cond = c.bools
    switch (x.storage, y.storage) {
    case (.float(let a), .float(let b)):
      return Tensor(dtype: x.dtype, shape: out, storage: .float((0..<ic.count).map { cond[ic[$0]] ? a[ix[$0]] : b[iy[$0]] }))
    case (.int(let a), .int(let b)):
      return Tensor(dtype: x.dtype, shape: out, storage: .int((0..<ic.count).map { cond[ic[$0]] ? a[ix[$0]] : b[iy[$0]] }))
    case (.bool(let a), .bool(let b)):
      return Tensor(shape: out, bools: (0..<ic.count).map { cond[ic[$0]] ? a[ix[$0]] : b[iy[$0]] })
    default:
      throw opError(node, "X and Y differ in element type (\(x.dtype), \(y.dtype))")
    }
  }

  static func variadic(_ f: @escaping @Sendable (Float, Float) -> Float,
                       _ i: @escaping @Sendable (Int64, Int64) -> Int64, mean: Bool) -> OpKernel {
    return { node, inputs, _ in
      let present = inputs.compactMap { $0 }
      guard var acc = present.first else { throw opError(node, "needs at least one input") }
      for t in present.dropFirst() {
        acc = acc.dtype.isFloatingPoint ? try floatBinary(node, acc, t, ClosureBinary(f: f)) : try integerBinary(node, acc, t, i)
      }
      if mean, acc.dtype.isFloatingPoint {
        let k = Float(present.count)
        acc = Tensor(dtype: acc.dtype, shape: acc.shape, storage: .float(acc.floats.map { $0 / k }))
      }
      return [acc]
    }
  }
}
