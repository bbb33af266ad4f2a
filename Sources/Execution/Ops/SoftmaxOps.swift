import Kernels
import Foundation
import GraphIR
import TensorCore

/// Softmax and LogSoftmax. Before opset 13 the input is coerced to 2-D at `axis` (default 1);
/// from opset 13 the op runs along `axis` alone (default −1).
enum SoftmaxOps {
  static let kernels: [String: OpKernel] = [
    "Softmax": { node, inputs, opset in [try softmax(node, inputs, opset, log: false)] },
    "LogSoftmax": { node, inputs, opset in [try softmax(node, inputs, opset, log: true)] },
  ]

  static func softmax(_ node: Node, _ inputs: [Tensor?], _ opset: Int, log: Bool) throws -> Tensor {
    let x = try inputs.required(0, node)
    let v = try x.floatValues(node)
    let r = x.rank
    guard let axis = ShapeMath.axis(node.int("axis", default: opset < 13 ? 1 : -1), rank: r) else {
      throw opError(node, "axis out of range for rank \(r)")
    }
    // (outer, length, inner) view of the reduction.
    let outer: Int, length: Int, inner: Int
    if opset < 13 {
      outer = x.shape[..<axis].reduce(1, *); length = x.shape[axis...].reduce(1, *); inner = 1
    } else {
      outer = x.shape[..<axis].reduce(1, *); length = r == 0 ? 1 : x.shape[axis]; inner = x.shape[(axis + 1)...].reduce(1, *)
    }
    if inner == 1 {
      // Contiguous rows: the C kernel with a vectorized exp, rows split over the cores, written
      // straight into the output (no copy of the input first).
      let rowsPerTask = Swift.max(1, 4096 / Swift.max(length, 1))
      let out = [Float](unsafeUninitializedCapacity: v.count) { o, initialized in
        v.withUnsafeBufferPointer { i in
          guard let src = i.baseAddress, let dst = o.baseAddress else { return }
          Parallel.forEach((outer + rowsPerTask - 1) / rowsPerTask, costPerItem: rowsPerTask * length * 8) { t in
            let first = t * rowsPerTask, count = Swift.min(rowsPerTask, outer - first)
            FloatKernels.softmaxRows(src + first * length, into: dst + first * length, rows: count, length: length, log: log)
          }
        }
        initialized = v.count
      }
      return Tensor(dtype: x.dtype, shape: x.shape, storage: .float(out))
    }
    var out = v
    out.withUnsafeMutableBufferPointer { o in
      for a in 0..<outer {
        for c in 0..<inner {
          let base = a * length * inner + c
          var m = -Float.infinity
          for k in 0..<length { m = Swift.max(m, o[base + k * inner]) }
          var s: Float = 0
          for k in 0..<length {
            let e = expf(o[base + k * inner] - m)
            s += e
            if !log { o[base + k * inner] = e }
          }
          if log {
            let ls = logf(s) + m
            for k in 0..<length { o[base + k * inner] -= ls }
          } else {
            let inv = 1 / s
            for k in 0..<length { o[base + k * inner] *= inv }
          }
        }
      }
    }
    return Tensor(dtype: x.dtype, shape: x.shape, storage: .float(out))
  }
}
