import Kernels
import GraphIR
import TensorCore

/// ConvTranspose (1-D/2-D, groups, dilations, pads, output_padding, output_shape):
/// GEMM of the transposed weight with the input, then col2im scatter-add.
enum ConvTransposeOps {
  static let kernels: [String: OpKernel] = [
    "ConvTranspose": { node, inputs, _ in [try convTranspose(node, inputs)] }
  ]

  static func convTranspose(_ node: Node, _ inputs: [Tensor?]) throws -> Tensor {
    let x = try inputs.required(0, node), w = try inputs.required(1, node)
    guard x.rank == w.rank, x.rank == 3 || x.rank == 4 else {
      throw opError(node, "input \(x.shape) and weight \(w.shape) must both be 3-D or 4-D")
    }
    let geo = try ConvTransposeGeometry(node: node, input: x.shape, weight: w.shape)
    let n = geo.n, c = geo.c, group = geo.group, ocg = geo.ocg, oc = geo.oc, icg = geo.icg
    let (inH, inW, kH, kW) = (geo.inH, geo.inW, geo.kH, geo.kW)
    let (outH, outW, outSpatial) = (geo.outH, geo.outW, geo.outSpatial)
    let bias = try inputs.optional(2).map { try $0.floatValues(node) }
    let xv = try x.floatValues(node), wv = try w.floatValues(node)
    let inPlane = inH * inW, outPlane = outH * outW, kk = kH * kW
    var out = [Float](repeating: 0, count: n * oc * outPlane)
    var cols = [Float](repeating: 0, count: ocg * kk * inPlane)
    if !out.isEmpty && !cols.isEmpty && icg > 0 {
      xv.withUnsafeBufferPointer { px in wv.withUnsafeBufferPointer { pw in out.withUnsafeMutableBufferPointer { po in
        cols.withUnsafeMutableBufferPointer { pc in
          // Each group's transposed weights (ocg·kk rows of depth icg) packed once for all images.
          let rows = (0..<group).map { g in
            FloatRowPanels(rows: ocg * kk, depth: icg, pw.baseAddress! + g * icg * ocg * kk, rowStride: 1, depthStride: ocg * kk)
          }
          for b in 0..<n {
            for g in 0..<group {
              FloatGEMM.run(rows: rows[g], columns: .matrix(px.baseAddress! + (b * c + g * icg) * inPlane, depthStride: inPlane,
                columnStride: 1), count: inPlane, output: pc.baseAddress!, rowStride: inPlane, columnStride: 1)
              // col2im: each output channel gathers its own kH·kW rows, so channels run in parallel.
              let po = po, pc = pc
              Parallel.forEach(ocg, costPerItem: kk * inPlane) { o in
                let dst = po.baseAddress! + (b * oc + g * ocg + o) * outPlane
                for tap in 0..<kk {
                  let kh = tap / kW, kw = tap % kW
                  let src = pc.baseAddress! + (o * kk + tap) * inPlane
                  for ih in 0..<inH {
                    guard let oh = geo.outputRow(ih, tap: kh) else { continue }
                    let from = src + ih * inW, to = dst + oh * outW
                    for iw in 0..<inW {
                      if let ow = geo.outputColumn(iw, tap: kw) { to[ow] += from[iw] }
                    }
                  }
                }
              }
            }
          }
        }
      } } }
    }
    if let bias {
      guard bias.count == oc else { throw opError(node, "bias has \(bias.count) values for \(oc) output channels") }
      out.withUnsafeMutableBufferPointer { po in
        for b in 0..<n { for o in 0..<oc { let d = po.baseAddress! + (b * oc + o) * outPlane; for i in 0..<outPlane { d[i] += bias[o] } } }
      }
    }
    return Tensor(dtype: x.dtype, shape: [n, oc] + outSpatial, storage: .float(out))
  }
}

/// The sizes of one ConvTranspose: input X [n, c, inH, inW], weight [c, ocg, kH, kW], output
/// [n, ocg·group, outH, outW]; output position = input position · stride − pad + tap · dilation.
public struct ConvTransposeGeometry: Sendable {
  public var n: Int, c: Int, group: Int, ocg: Int, oc: Int, icg: Int
  public var inH: Int, inW: Int, kH: Int, kW: Int, sH: Int, sW: Int, dH: Int, dW: Int, pT: Int, pL: Int
  public var outH: Int, outW: Int
  public var outSpatial: [Int]

  /// The output row input row `ih` feeds through kernel row `kh` (nil outside the output).
  @inline(__always) public func outputRow(_ ih: Int, tap kh: Int) -> Int? {
    let oh = ih * sH - pT + kh * dH
    return oh >= 0 && oh < outH ? oh : nil
  }

  /// The output column input column `iw` feeds through kernel column `kw` (nil outside).
  @inline(__always) public func outputColumn(_ iw: Int, tap kw: Int) -> Int? {
    let ow = iw * sW - pL + kw * dW
    return ow >= 0 && ow < outW ? ow : nil
  }

  public init(node: Node, input: [Int], weight: [Int]) throws {
    guard input.count == weight.count, input.count == 3 || input.count == 4 else {
      throw opError(node, "input \(input) and weight \(weight) must both be 3-D or 4-D")
    }
    group = node.int("group", default: 1)
    n = input[0]
    c = input[1]
    guard group > 0, weight[0] == c, c % group == 0 else {
      throw opError(node, "input channels \(c), weight \(weight) and group \(group) disagree")
    }
    ocg = weight[1]
    oc = ocg * group
    icg = c / group
    let r = input.count - 2
    let spatial = Array(input.dropFirst(2)), kernel = Array(weight.dropFirst(2))
    let strides = node.ints("strides") ?? [Int](repeating: 1, count: r)
    let dil = node.ints("dilations") ?? [Int](repeating: 1, count: r)
    let outPad = node.ints("output_padding") ?? [Int](repeating: 0, count: r)
    var pads = node.ints("pads") ?? [Int](repeating: 0, count: 2 * r)
    guard strides.count == r, dil.count == r, outPad.count == r, pads.count == 2 * r else {
      throw opError(node, "attributes do not match \(r) spatial dims")
    }
    let autoPad = node.string("auto_pad") ?? "NOTSET"
    var outSpatial = [Int](repeating: 0, count: r)
    let explicitOut = node.ints("output_shape").map { Array($0.suffix(r)) }
    for i in 0..<r {
      let full = strides[i] * (spatial[i] - 1) + outPad[i] + (kernel[i] - 1) * dil[i] + 1
      if let os = explicitOut ?? (autoPad.hasPrefix("SAME") ? spatial.map { $0 * strides[i] } : nil) {
        let total = Swift.max(full - os[i], 0)
        if autoPad == "SAME_UPPER" {
          pads[i] = total / 2; pads[i + r] = total - total / 2
        } else {
          pads[i] = total - total / 2; pads[i + r] = total / 2
        }
        outSpatial[i] = os[i]
      } else {
        outSpatial[i] = full - pads[i] - pads[i + r]
      }
    }
    guard outSpatial.allSatisfy({ $0 >= 0 }) else { throw opError(node, "negative output size \(outSpatial)") }
    self.outSpatial = outSpatial
    (inH, inW) = r == 1 ? (1, spatial[0]) : (spatial[0], spatial[1])
    (kH, kW) = r == 1 ? (1, kernel[0]) : (kernel[0], kernel[1])
    (sH, sW) = r == 1 ? (1, strides[0]) : (strides[0], strides[1])
    (dH, dW) = r == 1 ? (1, dil[0]) : (dil[0], dil[1])
    (pT, pL) = r == 1 ? (0, pads[0]) : (pads[0], pads[1])
    (outH, outW) = r == 1 ? (1, outSpatial[0]) : (outSpatial[0], outSpatial[1])
  }
}
