import Kernels
import GraphIR
import TensorCore

/// MaxPool, AveragePool (1-D/2-D windows) and the global pools (any rank).
enum PoolingOps {
  static let kernels: [String: OpKernel] = [
    "MaxPool": { node, inputs, _ in
      if node.outputs.count > 1 && !node.outputs[1].isEmpty {
        throw opError(node, "the Indices output of MaxPool is not supported")
      }
      return [try pool(node, inputs, max: true)]
    },
    "AveragePool": { node, inputs, _ in [try pool(node, inputs, max: false)] },
    "GlobalAveragePool": { node, inputs, _ in [try global(node, inputs, max: false)] },
    "GlobalMaxPool": { node, inputs, _ in [try global(node, inputs, max: true)] },
  ]

  static func pool(_ node: Node, _ inputs: [Tensor?], max isMax: Bool) throws -> Tensor {
    let x = try inputs.required(0, node)
    guard x.rank == 3 || x.rank == 4, let kernel = node.ints("kernel_shape"), kernel.count == x.rank - 2 else {
      throw opError(node, "needs a 3-D or 4-D input and kernel_shape of matching rank (input \(x.shape))")
    }
    let geo = try ConvWindow(node: node, input: x.shape, kernel: kernel,
      ceilMode: node.int("ceil_mode", default: 0) != 0)
    let includePad = node.int("count_include_pad", default: 0) != 0
    let v = try x.floatValues(node)
    let items = x.shape[0] * x.shape[1]
    let inPlane = geo.inH * geo.inW, plane = geo.outH * geo.outW
    var out = [Float](repeating: 0, count: items * plane)
    // The C kernel averages over the taps inside; count_include_pad with real padding stays here.
    let padded = geo.padTop + geo.padLeft + geo.padBottom + geo.padRight > 0
    let onKernel = isMax || !includePad || !padded
    v.withUnsafeBufferPointer { pv in out.withUnsafeMutableBufferPointer { po in
      let src0 = pv.baseAddress, dst0 = po.baseAddress
      Parallel.forEach(items, costPerItem: plane * geo.kH * geo.kW) { item in
        guard let src0, let dst0 else { return }
        let src = src0 + item * inPlane, dst = dst0 + item * plane
        if onKernel {
          FloatKernels.poolPlane(src, output: dst, window: geo, max: isMax)
          return
        }
        for oh in 0..<geo.outH {
          for ow in 0..<geo.outW {
            var acc: Float = isMax ? -.infinity : 0
            var counted = 0
            for kh in 0..<geo.kH {
              let ih = oh * geo.strideH - geo.padTop + kh * geo.dilH
              for kw in 0..<geo.kW {
                let iw = ow * geo.strideW - geo.padLeft + kw * geo.dilW
                if ih < 0 || ih >= geo.inH || iw < 0 || iw >= geo.inW { continue }
                let value = src[ih * geo.inW + iw]
                if isMax { acc = Swift.max(acc, value) } else { acc += value }
                counted += 1
              }
            }
            if !isMax {
              // count_include_pad counts pad cells inside the padded extent, not ceil_mode overhang.
              var divisor = counted
              if includePad {
                let h0 = oh * geo.strideH - geo.padTop, w0 = ow * geo.strideW - geo.padLeft
                let h1 = Swift.min(h0 + (geo.kH - 1) * geo.dilH + 1, geo.inH + geo.padBottom)
                let w1 = Swift.min(w0 + (geo.kW - 1) * geo.dilW + 1, geo.inW + geo.padRight)
                divisor = ((h1 - h0 + geo.dilH - 1) / geo.dilH) * ((w1 - w0 + geo.dilW - 1) / geo.dilW)
              }
              acc = divisor > 0 ? acc / Float(divisor) : 0
            }
            dst[oh * geo.outW + ow] = acc
          }
        }
      }
    } }
    let outShape = x.rank == 3 ? [x.shape[0], x.shape[1], geo.outW] : [x.shape[0], x.shape[1], geo.outH, geo.outW]
    return Tensor(dtype: x.dtype, shape: outShape, storage: .float(out))
  }

  static func global(_ node: Node, _ inputs: [Tensor?], max isMax: Bool) throws -> Tensor {
    let x = try inputs.required(0, node)
    guard x.rank >= 3 else { throw opError(node, "input rank must be ≥ 3, got \(x.shape)") }
    let items = x.shape[0] * x.shape[1], inner = x.shape.dropFirst(2).reduce(1, *)
    let v = try x.floatValues(node)
    var out = [Float](repeating: 0, count: items)
    v.withUnsafeBufferPointer { p in out.withUnsafeMutableBufferPointer { o in
      guard let src = p.baseAddress, let dst = o.baseAddress else { return }
      Parallel.forEachRange(items, costPerItem: inner) { range in
        FloatKernels.globalPool(src + range.lowerBound * inner, rows: range.count, length: inner,
          output: dst + range.lowerBound, max: isMax)
      }
    } }
    return Tensor(dtype: x.dtype, shape: [x.shape[0], x.shape[1]] + [Int](repeating: 1, count: x.rank - 2), storage: .float(out))
  }
}
