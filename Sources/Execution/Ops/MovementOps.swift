import GraphIR
import Kernels
import TensorCore

/// Ops that move data: Transpose, Concat, Split, Gather, Expand, Tile, Pad.
public enum MovementOps {
  static let kernels: [String: OpKernel] = [
    "Transpose": { node, inputs, _ in [try transpose(node, try inputs.required(0, node))] },
    "Concat": { node, inputs, _ in [try concat(node, inputs.compactMap { $0 })] },
    "Split": { node, inputs, opset in try split(node, inputs, opset) },
    "Gather": { node, inputs, _ in [try gather(node, inputs)] },
    "Expand": { node, inputs, _ in
      let x = try inputs.required(0, node)
      let target = try inputs.required(1, node).asInts().map { Int($0) }
      guard let out = ShapeMath.broadcast(x.shape, target) else {
        throw opError(node, "cannot expand \(x.shape) to \(target)")
      }
      return [x.gathered(Broadcast.indices(x.shape, to: out), shape: out)]
    },
    "Tile": { node, inputs, _ in
      let x = try inputs.required(0, node)
      let reps = try inputs.required(1, node).asInts().map { Int($0) }
      guard reps.count == x.rank, reps.allSatisfy({ $0 >= 0 }) else {
        throw opError(node, "repeats \(reps) must give one non-negative count per axis of \(x.shape)")
      }
      let out = zip(x.shape, reps).map { $0 * $1 }
      let strides = ShapeMath.strides(x.shape), outStrides = ShapeMath.strides(out)
      let idx = (0..<out.reduce(1, *)).map { flat -> Int in
        var rem = flat, src = 0
        for (d, s) in outStrides.enumerated() { src += ((rem / s) % x.shape[d]) * strides[d]; rem %= s }
        return src
      }
      return [x.gathered(idx, shape: out)]
    },
    "Pad": { node, inputs, opset in [try pad(node, inputs, opset)] },
  ]

  static func transpose(_ node: Node, _ x: Tensor) throws -> Tensor {
    let perm = node.ints("perm") ?? Array((0..<x.rank).reversed())
    guard perm.count == x.rank, Set(perm) == Set(0..<x.rank) else {
      throw opError(node, "perm \(perm) is not a permutation of \(x.rank) axes")
    }
    let strides = ShapeMath.strides(x.shape)
    let shape = perm.map { x.shape[$0] }
    guard case .float(let values) = x.storage, x.rank >= 2, x.count > 0 else {
      return x.gathered(StridedIndex.indices(shape: shape, strides: perm.map { strides[$0] }, offset: 0), shape: shape)
    }
    return Tensor(dtype: x.dtype, shape: shape, storage: .float(transposed(values, shape: shape, strides: perm.map { strides[$0] })))
  }

  /// A float permutation without an index array: output rows (the last output dim) in parallel,
  /// each one strided run of the input (a copy when the last axis stays last).
  static func transposed(_ v: [Float], shape: [Int], strides: [Int]) -> [Float] {
    let inner = shape[shape.count - 1], step = strides[strides.count - 1]
    let rows = v.count / inner
    let outerShape = Array(shape.dropLast()), outerStrides = Array(strides.dropLast())
    return [Float](unsafeUninitializedCapacity: v.count) { buf, count in
      v.withUnsafeBufferPointer { pv in
        let src = pv.baseAddress!, dst = buf.baseAddress!
        Parallel.forEachRange(rows, costPerItem: inner) { range in
          for r in range {
            var rest = r, offset = 0
            for d in stride(from: outerShape.count - 1, through: 0, by: -1) {
              offset += rest % outerShape[d] * outerStrides[d]
              rest /= outerShape[d]
            }
            let from = src + offset, to = dst + r * inner
            if step == 1 { to.update(from: from, count: inner) } else { for j in 0..<inner { to[j] = from[j * step] } }
          }
        }
      }
      count = v.count
    }
  }

  static func concat(_ node: Node, _ parts: [Tensor]) throws -> Tensor {
    guard let first = parts.first else { throw opError(node, "needs at least one input") }
    guard let axis = ShapeMath.axis(node.int("axis", default: 0), rank: first.rank) else {
      throw opError(node, "axis out of range for \(first.shape)")
    }
    for p in parts {
      guard p.rank == first.rank,
        (0..<p.rank).allSatisfy({ $0 == axis || p.shape[$0] == first.shape[$0] })
      else { throw opError(node, "inputs \(parts.map(\.shape)) differ outside axis \(axis)") }
    }
    let outer = first.shape[..<axis].reduce(1, *)
    let inners = parts.map { $0.shape[axis...].reduce(1, *) }
    var shape = first.shape
    shape[axis] = parts.map { $0.shape[axis] }.reduce(0, +)
    func join<T>(_ arrays: [[T]]) -> [T] {
      var out: [T] = []
      out.reserveCapacity(outer * inners.reduce(0, +))
      for o in 0..<outer { for (k, a) in arrays.enumerated() { out.append(contentsOf: a[(o * inners[k])..<((o + 1) * inners[k])]) } }
      return out
    }
    switch first.storage {
    case .float: return Tensor(dtype: first.dtype, shape: shape, storage: .float(join(parts.map { $0.asFloats() })))
    case .int: return Tensor(dtype: first.dtype, shape: shape, storage: .int(join(parts.map { $0.asInts() })))
    case .bool: return Tensor(shape: shape, bools: join(parts.map { $0.bools }))
    }
  }

  static func split(_ node: Node, _ inputs: [Tensor?], _ opset: Int) throws -> [Tensor] {
    let x = try inputs.required(0, node)
    guard let axis = ShapeMath.axis(node.int("axis", default: 0), rank: x.rank) else {
      throw opError(node, "axis out of range for \(x.shape)")
    }
    let outputs = node.outputs.count, length = x.shape[axis]
    var sizes = opset < 13 ? node.ints("split") : inputs.optional(1)?.asInts().map { Int($0) }
    if sizes == nil || sizes!.isEmpty {
      let parts = node.int("num_outputs") ?? outputs
      let chunk = (length + parts - 1) / Swift.max(parts, 1)
      sizes = (0..<parts).map { Swift.max(Swift.min(chunk, length - $0 * chunk), 0) }
    }
    guard let sizes, sizes.reduce(0, +) == length, sizes.count == outputs else {
      throw opError(node, "split sizes \(sizes ?? []) do not cover axis \(axis) of length \(length) in \(outputs) outputs")
    }
    var start = 0
    return sizes.map { size in
      defer { start += size }
      var shape = x.shape
      shape[axis] = size
      let strides = ShapeMath.strides(x.shape)
      return x.gathered(StridedIndex.indices(shape: shape, strides: strides, offset: start * strides[axis]), shape: shape)
    }
  }

  static func gather(_ node: Node, _ inputs: [Tensor?]) throws -> Tensor {
    let x = try inputs.required(0, node), indices = try inputs.required(1, node)
    guard let axis = ShapeMath.axis(node.int("axis", default: 0), rank: x.rank) else {
      throw opError(node, "axis out of range for \(x.shape)")
    }
    let length = x.shape[axis]
    let idx = try indices.asInts().map { i -> Int in
      let v = Int(i) < 0 ? Int(i) + length : Int(i)
      guard (0..<length).contains(v) else { throw opError(node, "index \(i) out of range for axis of length \(length)") }
      return v
    }
    let outer = x.shape[..<axis].reduce(1, *), inner = x.shape[(axis + 1)...].reduce(1, *)
    let shape = Array(x.shape[..<axis]) + indices.shape + Array(x.shape[(axis + 1)...])
    // Output block (o, j) is the `inner` contiguous values of input block (o, idx[j]).
    func blocks<T>(_ v: [T]) -> [T] {
      [T](unsafeUninitializedCapacity: outer * idx.count * inner) { out, count in
        v.withUnsafeBufferPointer { src in
          var at = 0
          for o in 0..<outer {
            for i in idx {
              let from = (o * length + i) * inner
              _ = out[at..<(at + inner)].initialize(from: src[from..<(from + inner)])
              at += inner
            }
          }
        }
        count = outer * idx.count * inner
      }
    }
    switch x.storage {
    case .float(let v): return Tensor(dtype: x.dtype, shape: shape, storage: .float(blocks(v)))
    case .int(let v): return Tensor(dtype: x.dtype, shape: shape, storage: .int(blocks(v)))
    case .bool(let v): return Tensor(dtype: x.dtype, shape: shape, storage: .bool(blocks(v)))
    }
  }

  static func pad(_ node: Node, _ inputs: [Tensor?], _ opset: Int) throws -> Tensor {
    let x = try inputs.required(0, node)
    let (shape, src, value) = try padSources(node, inputs, opset)
    switch x.storage {
    case .float(let v): return Tensor(dtype: x.dtype, shape: shape, storage: .float(src.map { $0 < 0 ? value : v[$0] }))
    case .int(let v): return Tensor(dtype: x.dtype, shape: shape, storage: .int(src.map { $0 < 0 ? Int64(value) : v[$0] }))
    case .bool(let v): return Tensor(shape: shape, bools: src.map { $0 < 0 ? value != 0 : v[$0] })
    }
  }

  /// A Pad's output shape, the input element each output element copies (−1 where the constant
  /// goes; edge, reflect and wrap copy an input element) and the constant.
  public static func padSources(_ node: Node, _ inputs: [Tensor?], _ opset: Int) throws -> (shape: [Int], sources: [Int], value: Float) {
    let x = try inputs.required(0, node)
    let r = x.rank
    let rawPads = opset < 11 ? node.ints("pads") : inputs.optional(1)?.asInts().map { Int($0) }
    guard let rawPads else { throw opError(node, "needs pads") }
    var axes = Array(0..<r)
    if let a = inputs.optional(3), a.count > 0 {
      axes = try a.asInts().map { v in
        guard let ax = ShapeMath.axis(Int(v), rank: r) else { throw opError(node, "axis \(v) out of range") }
        return ax
      }
    }
    guard rawPads.count == 2 * axes.count else { throw opError(node, "pads \(rawPads) do not match \(axes.count) axes") }
    var begin = [Int](repeating: 0, count: r), end = begin
    for (i, a) in axes.enumerated() { begin[a] = rawPads[i]; end[a] = rawPads[i + axes.count] }
    let mode = node.string("mode") ?? "constant"
    let shape = (0..<r).map { x.shape[$0] + begin[$0] + end[$0] }
    guard shape.allSatisfy({ $0 >= 0 }) else { throw opError(node, "pads \(rawPads) shrink \(x.shape) below zero") }
    let value: Float = opset < 11 ? node.float("value", default: 0) : (inputs.optional(2).map { $0.count > 0 ? $0.asFloats()[0] : 0 } ?? 0)
    let strides = ShapeMath.strides(x.shape), outStrides = ShapeMath.strides(shape)
    let n = shape.reduce(1, *)
    // Source index per output element, -1 where the constant goes.
    var src = [Int](repeating: -1, count: n)
    for flat in 0..<n {
      var rem = flat, s = 0, inside = true
      for d in 0..<r {
        var c = rem / outStrides[d] - begin[d]
        rem %= outStrides[d]
        let len = x.shape[d]
        if c < 0 || c >= len {
          switch mode {
          case "constant": inside = false
          case "edge": c = Swift.min(Swift.max(c, 0), len - 1)
          case "reflect":
            guard len > 1 else { c = 0; break }
            let period = 2 * (len - 1)
            c = ((c % period) + period) % period
            if c >= len { c = period - c }
          case "wrap": c = ((c % len) + len) % len
          default: throw opError(node, "mode '\(mode)' is not supported (constant, edge, reflect, wrap)")
          }
        }
        if !inside { break }
        s += c * strides[d]
      }
      if inside { src[flat] = s }
    }
    return (shape, src, value)
  }
}
