import Kernels
import GraphIR
import TensorCore

/// Conv (1-D/2-D, groups, dilations, pads, auto_pad): the FP32 GEMM on implicitly unfolded
/// columns for general and pointwise convolutions, a direct kernel for depthwise ones.
enum ConvOps {
  static let kernels: [String: OpKernel] = [
    "Conv": { node, inputs, _ in [try conv(node, inputs)] }
  ]

  /// Runs `node`; `epilogue` is an activation fused into it by the interpreter.
  static func conv(_ node: Node, _ inputs: [Tensor?], epilogue: Epilogue = .identity,
                   packed: PackedFloatWeights? = nil) throws -> Tensor {
    let x = try inputs.required(0, node), w = try inputs.required(1, node)
    guard x.rank == w.rank, x.rank == 3 || x.rank == 4 else {
      throw opError(node, "input \(x.shape) and weight \(w.shape) must both be 3-D or 4-D (1-D or 2-D convolution)")
    }
    let group = node.int("group", default: 1)
    let n = x.shape[0], c = x.shape[1], oc = w.shape[0], icg = w.shape[1]
    guard group > 0, c == icg * group, oc % group == 0 else {
      throw opError(node, "input channels \(c), weight \(w.shape) and group \(group) disagree")
    }
    if let ks = node.ints("kernel_shape"), ks != Array(w.shape.dropFirst(2)) {
      throw opError(node, "kernel_shape \(ks) differs from the weight's \(Array(w.shape.dropFirst(2)))")
    }
    let geo = try ConvWindow(node: node, input: x.shape, weight: w.shape)
    let bias = try inputs.optional(2).map { try $0.floatValues(node) }
    if let b = bias, b.count != oc { throw opError(node, "bias has \(b.count) values for \(oc) output channels") }
    let xv = try x.floatValues(node), wv = try w.floatValues(node)
    let outShape = x.rank == 3 ? [n, oc, geo.outW] : [n, oc, geo.outH, geo.outW]
    let out = ConvKernels.conv2d(x: xv, n: n, c: c, w: wv, oc: oc, group: group, bias: bias, geo: geo, epilogue: epilogue,
      packed: packed)
    return Tensor(dtype: x.dtype, shape: outShape, storage: .float(out))
  }
}

/// The FP32 convolution kernels on raw NCHW buffers.
public enum ConvKernels {
  /// Output of a grouped 2-D convolution, NCHW (`oc × outH × outW` per image): the FP32 GEMM
  /// over weight rows packed once per layer (`packed`) and columns packed from the input a few
  /// panels at a time (no im2col matrix), or the direct depthwise kernel.
  static func conv2d(x: [Float], n: Int, c: Int, w: [Float], oc: Int, group: Int, bias: [Float]?,
                     geo: ConvWindow, epilogue: Epilogue = .identity, packed: PackedFloatWeights? = nil) -> [Float] {
    let plane = geo.outH * geo.outW, inPlane = geo.inH * geo.inW
    let total = n * oc * plane
    if total == 0 { return [] }
    let icg = c / group, ocg = oc / group
    let kk = icg * geo.kH * geo.kW
    // Relu and Clip run in the GEMM's store; the rest of the epilogue in one pass after each image.
    let clip = epilogue.kernelClip, after = Epilogue.Compiled(epilogue.afterKernel)
    // Every element is stored by a kernel (no zero fill first), except with no depth at all.
    let out = [Float](unsafeUninitializedCapacity: total) { po, initialized in
      if kk == 0 { po.initialize(repeating: 0) }
      initialized = total
    x.withUnsafeBufferPointer { px in w.withUnsafeBufferPointer { pw in
      let xb = px.baseAddress!, wb = pw.baseAddress!, ob = po.baseAddress!
      if icg == 1 && group == c && group > 1 {
        depthwise(x: xb, w: wb, bias: bias, out: ob, n: n, c: c, multiplier: ocg, geo: geo, epilogue: epilogue)
        return
      }
      func makeRows() -> ConvWeightRows {
        ConvWeightRows((0..<group).map { g in
          FloatRowPanels(rows: ocg, depth: kk, wb + g * ocg * kk, rowStride: kk, depthStride: 1)
        })
      }
      let rows = packed?.get(makeRows) ?? makeRows()
      (bias ?? []).withUnsafeBufferPointer { pbias in
        func image(_ b: Int, threads: Int?) {
          for g in 0..<group {
            FloatGEMM.convolution(rows: rows.groups[g], input: xb + (b * c + g * icg) * inPlane, channels: icg,
              window: geo, output: ob + (b * oc + g * ocg) * plane,
              epilogue: FloatEpilogue(rowBias: bias == nil ? nil : pbias.baseAddress! + g * ocg, clip: clip),
              threads: threads)
          }
          // An image that had every core runs the rest of its epilogue on every core too.
          if !after.isIdentity {
            if threads == nil {
              epilogue.afterKernel.applyInParallel(ob + b * oc * plane, count: oc * plane)
            } else {
              after.apply(ob + b * oc * plane, count: oc * plane)
            }
          }
        }
        // Images in parallel when one image has too few column chunks to split over the cores.
        let chunks = (plane + FloatGEMM.columnsPerChunk(depth: kk) - 1) / FloatGEMM.columnsPerChunk(depth: kk)
        if n > 1 && chunks < 2 * Parallel.cores {
          Parallel.forEach(n, costPerItem: oc * plane * Swift.max(kk, 1)) { b in image(b, threads: 1) }
        } else {
          for b in 0..<n { image(b, threads: nil) }
        }
      }
    } }
    }
    return out
  }

  /// Unfolds `channels` input planes into a `(channels·kH·kW) × (outH·outW)` matrix (for code
  /// outside the runtime: the gradients).
  public static func im2col(_ x: UnsafePointer<Float>, channels: Int, window: ConvWindow, col: UnsafeMutablePointer<Float>) {
    im2col(x, channels: channels, geo: window, col: col, parallel: false)
  }

  /// Unfolds `channels` input planes into a `(channels·kH·kW) × (outH·outW)` matrix.
  static func im2col(_ x: UnsafePointer<Float>, channels: Int, geo: ConvWindow, col: UnsafeMutablePointer<Float>,
                     parallel: Bool) {
    let plane = geo.outH * geo.outW
    let rows = channels * geo.kH * geo.kW
    Parallel.forEach(rows, costPerItem: parallel ? plane : 0) { row in
      let kw = row % geo.kW, kh = (row / geo.kW) % geo.kH, ch = row / (geo.kW * geo.kH)
      let src = x + ch * geo.inH * geo.inW
      let dst = col + row * plane
      for oh in 0..<geo.outH {
        let ih = oh * geo.strideH - geo.padTop + kh * geo.dilH
        let d = dst + oh * geo.outW
        if ih < 0 || ih >= geo.inH {
          d.update(repeating: 0, count: geo.outW)
          continue
        }
        let s = src + ih * geo.inW
        let off = kw * geo.dilW - geo.padLeft
        // Valid ow range: 0 <= ow*stride + off < inW.
        let lo = off >= 0 ? 0 : Swift.min((-off + geo.strideW - 1) / geo.strideW, geo.outW)
        let hi = Swift.max(Swift.min(geo.inW - off > 0 ? (geo.inW - off - 1) / geo.strideW + 1 : 0, geo.outW), lo)
        if lo > 0 { d.update(repeating: 0, count: lo) }
        if geo.strideW == 1 {
          if hi > lo { d.advanced(by: lo).update(from: s + lo + off, count: hi - lo) }
        } else {
          for ow in lo..<hi { d[ow] = s[ow * geo.strideW + off] }
        }
        if hi < geo.outW { d.advanced(by: hi).update(repeating: 0, count: geo.outW - hi) }
      }
    }
  }

  /// Direct depthwise convolution: output channel o reads input channel o / multiplier.
  /// One plane per task on the C kernel chosen for this CPU (scalar twin: `ck_depthwise_f32_ref`).
  static func depthwise(x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: [Float]?, out: UnsafeMutablePointer<Float>,
                        n: Int, c: Int, multiplier: Int, geo: ConvWindow, epilogue: Epilogue) {
    let oc = c * multiplier
    let inPlane = geo.inH * geo.inW, plane = geo.outH * geo.outW, taps = geo.kH * geo.kW
    let scratchCount = FloatKernels.depthwiseScratchFloats(geo)
    let after = Epilogue.Compiled(epilogue)
    Parallel.forEachRange(n * oc, costPerItem: plane * taps) { items in
      var scratch = [Float](repeating: 0, count: scratchCount)
      scratch.withUnsafeMutableBufferPointer { sp in
        for item in items {
          let b = item / oc, o = item % oc
          FloatKernels.depthwisePlane(x + (b * c + o / multiplier) * inPlane, weights: w + o * taps, bias: bias?[o] ?? 0,
            output: out + item * plane, window: geo, scratch: sp.baseAddress)
          if !after.isIdentity { after.apply(out + item * plane, count: plane) }
        }
      }
    }
  }
}
