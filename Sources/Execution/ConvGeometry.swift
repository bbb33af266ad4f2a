import CKernels
import GraphIR
import TensorCore

/// Spatial geometry shared by Conv, ConvTranspose and the pools, for 1-D and 2-D windows
/// (1-D is handled as 2-D with height 1).
struct ConvGeometry {
  var inH: Int, inW: Int
  var kH: Int, kW: Int
  var strideH: Int, strideW: Int
  var dilH: Int, dilW: Int
  var padTop: Int, padLeft: Int, padBottom: Int, padRight: Int
  var outH: Int, outW: Int

  /// Window geometry from the node's attributes.
  ///
  ///     out = floor((in + padBegin + padEnd − ((k − 1)·dilation + 1)) / stride) + 1   (ceil with ceil_mode)
  ///
  /// - Parameters:
  ///   - spatial: the input's spatial dims (1 or 2 of them).
  ///   - kernel: the window's spatial dims.
  static func make(_ node: Node, spatial: [Int], kernel: [Int], ceilMode: Bool = false) throws -> ConvGeometry {
    let r = spatial.count
    guard r == 1 || r == 2, kernel.count == r else {
      throw opError(node, "only 1-D and 2-D windows are supported (input spatial dims \(spatial), kernel \(kernel))")
    }
    let strides = node.ints("strides") ?? [Int](repeating: 1, count: r)
    let dil = node.ints("dilations") ?? [Int](repeating: 1, count: r)
    var pads = node.ints("pads") ?? [Int](repeating: 0, count: 2 * r)
    guard strides.count == r, dil.count == r, pads.count == 2 * r, strides.allSatisfy({ $0 > 0 }), dil.allSatisfy({ $0 > 0 }) else {
      throw opError(node, "strides \(strides), dilations \(dil) or pads \(pads) do not match \(r) spatial dims")
    }
    let autoPad = node.string("auto_pad") ?? "NOTSET"
    var out = [Int](repeating: 0, count: r)
    for i in 0..<r {
      let dk = (kernel[i] - 1) * dil[i] + 1
      switch autoPad {
      case "SAME_UPPER", "SAME_LOWER":
        out[i] = (spatial[i] + strides[i] - 1) / strides[i]
        let total = Swift.max((out[i] - 1) * strides[i] + dk - spatial[i], 0)
        let small = total / 2
        pads[i] = autoPad == "SAME_UPPER" ? small : total - small
        pads[i + r] = total - pads[i]
      case "VALID":
        pads[i] = 0; pads[i + r] = 0
        out[i] = spatial[i] >= dk ? (spatial[i] - dk) / strides[i] + 1 : 0
      case "NOTSET":
        let span = spatial[i] + pads[i] + pads[i + r] - dk
        if span < 0 { out[i] = 0; continue }
        out[i] = (ceilMode ? (span + strides[i] - 1) / strides[i] : span / strides[i]) + 1
        // A window may not start inside the end padding (ONNX/PyTorch ceil_mode rule).
        if ceilMode && (out[i] - 1) * strides[i] >= spatial[i] + pads[i] { out[i] -= 1 }
      default:
        throw opError(node, "unknown auto_pad '\(autoPad)'")
      }
    }
    if r == 1 {
      return ConvGeometry(inH: 1, inW: spatial[0], kH: 1, kW: kernel[0], strideH: 1, strideW: strides[0],
        dilH: 1, dilW: dil[0], padTop: 0, padLeft: pads[0], padBottom: 0, padRight: pads[1], outH: 1, outW: out[0])
    }
    return ConvGeometry(inH: spatial[0], inW: spatial[1], kH: kernel[0], kW: kernel[1], strideH: strides[0],
      strideW: strides[1], dilH: dil[0], dilW: dil[1], padTop: pads[0], padLeft: pads[1], padBottom: pads[2],
      padRight: pads[3], outH: out[0], outW: out[1])
  }

  var isPointwise: Bool {
    kH == 1 && kW == 1 && strideH == 1 && strideW == 1 && padTop == 0 && padLeft == 0 && padBottom == 0 && padRight == 0
  }

  /// The same geometry for the C kernels.
  var cGeometry: ck_conv_geometry {
    ck_conv_geometry(in_h: Int32(inH), in_w: Int32(inW), k_h: Int32(kH), k_w: Int32(kW), stride_h: Int32(strideH),
      stride_w: Int32(strideW), dil_h: Int32(dilH), dil_w: Int32(dilW), pad_top: Int32(padTop), pad_left: Int32(padLeft),
      out_h: Int32(outH), out_w: Int32(outW))
  }
}

/// The window of a Conv or pooling node on an input shape, for code outside the runtime
/// (calibration, gradients). 1-D windows have height 1.
public struct ConvWindow: Sendable {
  public let inH: Int, inW: Int, kH: Int, kW: Int, strideH: Int, strideW: Int, dilH: Int, dilW: Int
  public let padTop: Int, padLeft: Int, padBottom: Int, padRight: Int, outH: Int, outW: Int

  /// A Conv's window: `weight` is the weight's shape (its spatial dims are the kernel).
  public init(node: Node, input: [Int], weight: [Int]) throws {
    try self.init(node: node, input: input, kernel: Array(weight.dropFirst(2)))
  }

  /// A window of `kernel` spatial dims (pools: `kernel_shape`, with `ceil_mode`).
  public init(node: Node, input: [Int], kernel: [Int], ceilMode: Bool = false) throws {
    let g = try ConvGeometry.make(node, spatial: Array(input.dropFirst(2)), kernel: kernel, ceilMode: ceilMode)
    inH = g.inH; inW = g.inW; kH = g.kH; kW = g.kW; strideH = g.strideH; strideW = g.strideW
    dilH = g.dilH; dilW = g.dilW; padTop = g.padTop; padLeft = g.padLeft; padBottom = g.padBottom
    padRight = g.padRight; outH = g.outH; outW = g.outW
  }
}

extension ConvWindow {
  /// The same window as the runtime's geometry.
  var geometry: ConvGeometry {
    ConvGeometry(inH: inH, inW: inW, kH: kH, kW: kW, strideH: strideH, strideW: strideW, dilH: dilH, dilW: dilW,
      padTop: padTop, padLeft: padLeft, padBottom: padBottom, padRight: padRight, outH: outH, outW: outW)
  }
}
