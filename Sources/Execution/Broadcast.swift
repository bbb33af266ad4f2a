import Kernels
import GraphIR
import TensorCore

/// Multidirectional (NumPy) broadcasting helpers.
public enum Broadcast {
  /// Output shape of broadcasting all `shapes`, or nil when they are incompatible.
  static func shape(_ shapes: [[Int]]) -> [Int]? {
    var out: [Int] = []
    for s in shapes {
      guard let r = ShapeMath.broadcast(out, s) else { return nil }
      out = r
    }
    return out
  }

  /// Element strides of `shape` seen through broadcasting to `out` (0 on broadcast dims).
  static func strides(_ shape: [Int], to out: [Int]) -> [Int] {
    let own = ShapeMath.strides(shape)
    let lead = out.count - shape.count
    return (0..<out.count).map { i in i < lead || shape[i - lead] == 1 ? 0 : own[i - lead] }
  }

  /// For every element of `out`, the flat index into a tensor of `shape` that it reads.
  public static func indices(_ shape: [Int], to out: [Int]) -> [Int] {
    StridedIndex.indices(shape: out, strides: strides(shape, to: out), offset: 0)
  }

  /// Applies `op` to two float arrays under broadcasting. The innermost run of dimensions is
  /// collapsed, so per-channel and scalar operands take a contiguous inner loop; large outputs are
  /// split over the cores in runs of rows.
  static func binary<F: BinaryFunction>(_ a: [Float], _ aShape: [Int], _ b: [Float], _ bShape: [Int], out: [Int],
                                        _ op: F) -> [Float] {
    let n = out.reduce(1, *)
    if aShape == bShape, let c = F.kernelOp {
      // Same shapes: one contiguous run, in blocks over the cores.
      let block = 1 << 14
      return [Float](unsafeUninitializedCapacity: n) { buf, count in
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
          let y = buf.baseAddress, xa = pa.baseAddress, xb = pb.baseAddress
          Parallel.forEach((n + block - 1) / block, costPerItem: block) { t in
            guard let y, let xa, let xb else { return }
            let j = t * block
            FloatKernels.binaryRow(c, y + j, xa + j, aStep: 1, xb + j, bStep: 1, count: Swift.min(block, n - j))
          }
        } }
        count = n
      }
    }
    let (dims, sa, sb) = aShape == bShape ? ([n], [1], [1]) : collapse(out, strides(aShape, to: out), strides(bShape, to: out))
    let inner = dims.last ?? 1
    let ia = sa.last ?? 0, ib = sb.last ?? 0
    let outer = n / max(inner, 1)
    // Rows per task: whole rows, at least ~32k elements each.
    let rowsPerTask = max(1, (1 << 15) / max(inner, 1))
    let tasks = (outer + rowsPerTask - 1) / rowsPerTask
    return [Float](unsafeUninitializedCapacity: n) { buf, count in
      a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
        let out = buf.baseAddress, xa = pa.baseAddress, xb = pb.baseAddress
        Parallel.forEach(tasks, costPerItem: rowsPerTask * inner) { task in
          guard let out, let xa, let xb else { return }
          let first = task * rowsPerTask, last = min(first + rowsPerTask, outer)
          // Coordinates and offsets of the first row of this task.
          var counter = [Int](repeating: 0, count: max(dims.count - 1, 0))
          var offA = 0, offB = 0, rem = first
          for d in stride(from: counter.count - 1, through: 0, by: -1) {
            counter[d] = rem % dims[d]
            rem /= dims[d]
            offA += counter[d] * sa[d]
            offB += counter[d] * sb[d]
          }
          for o in first..<last {
            let base = o * inner
            if let c = F.kernelOp {
              FloatKernels.binaryRow(c, out + base, xa + offA, aStep: ia, xb + offB, bStep: ib, count: inner)
            } else {
            switch (ia, ib) {
            case (1, 1): for j in 0..<inner { out[base + j] = op(xa[offA + j], xb[offB + j]) }
            case (1, 0): let y = xb[offB]; for j in 0..<inner { out[base + j] = op(xa[offA + j], y) }
            case (0, 1): let x = xa[offA]; for j in 0..<inner { out[base + j] = op(x, xb[offB + j]) }
            default: let r = op(xa[offA], xb[offB]); for j in 0..<inner { out[base + j] = r }
            }
            }
            var d = counter.count - 1
            while d >= 0 {
              counter[d] += 1
              offA += sa[d]
              offB += sb[d]
              if counter[d] < dims[d] { break }
              offA -= sa[d] * dims[d]
              offB -= sb[d] * dims[d]
              counter[d] = 0
              d -= 1
            }
          }
        }
      } }
      count = n
    }
  }

  /// Merges adjacent dimensions whose strides stay affine for both operands, dropping size-1 dims.
  static func collapse(_ dims: [Int], _ sa: [Int], _ sb: [Int]) -> ([Int], [Int], [Int]) {
    var d: [Int] = [], a: [Int] = [], b: [Int] = []
    for i in dims.indices where dims[i] != 1 {
      if let last = d.indices.last,
        a[last] == sa[i] * dims[i], b[last] == sb[i] * dims[i] {
        d[last] *= dims[i]
        a[last] = sa[i]
        b[last] = sb[i]
      } else {
        d.append(dims[i]); a.append(sa[i]); b.append(sb[i])
      }
    }
    if d.isEmpty { return ([1], [0], [0]) }
    // Inner stride must be 0 or 1 for the fast loops; otherwise add a unit inner dimension.
    if (a.last! != 0 && a.last! != 1) || (b.last! != 0 && b.last! != 1) {
      d.append(1); a.append(0); b.append(0)
    }
    return (d, a, b)
  }
}

/// Flat source indices of a strided view, used by the data-movement ops.
public enum StridedIndex {
  /// `offset + Σ coord[i]·strides[i]` for every coordinate of `shape`, in row-major order.
  public static func indices(shape: [Int], strides: [Int], offset: Int) -> [Int] {
    let n = shape.reduce(1, *)
    if n == 0 { return [] }
    guard let innerDim = shape.last else { return [offset] }
    let innerStride = strides.last!
    var out = [Int](repeating: 0, count: n)
    var counter = [Int](repeating: 0, count: shape.count - 1)
    var base = offset
    var k = 0
    while k < n {
      for j in 0..<innerDim { out[k + j] = base + j * innerStride }
      k += innerDim
      var d = counter.count - 1
      while d >= 0 {
        counter[d] += 1
        base += strides[d]
        if counter[d] < shape[d] { break }
        base -= strides[d] * shape[d]
        counter[d] = 0
        d -= 1
      }
    }
    return out
  }
}

extension Tensor {
  /// A tensor of `shape` whose element k is this tensor's element `indices[k]`.
  func gathered(_ indices: [Int], shape: [Int]) -> Tensor {
    switch storage {
    case .float(let v): return Tensor(dtype: dtype, shape: shape, storage: .float(indices.map { v[$0] }))
    case .int(let v): return Tensor(dtype: dtype, shape: shape, storage: .int(indices.map { v[$0] }))
    case .bool(let v): return Tensor(dtype: dtype, shape: shape, storage: .bool(indices.map { v[$0] }))
    }
  }
}
