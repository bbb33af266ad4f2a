import GraphIR
import Kernels
import TensorCore

extension ConvWindow {
  /// The window of a Conv, ConvTranspose or pooling node from its attributes (`strides`,
  /// `dilations`, `pads`, `auto_pad`; `ceil_mode` for pools).
  ///
  ///     out = floor((in + padBegin + padEnd − ((k − 1)·dilation + 1)) / stride) + 1   (ceil with ceil_mode)
  ///
  /// - Parameters:
  ///   - spatial: the input's spatial dims (1 or 2 of them).
  ///   - kernel: the window's spatial dims.
  public init(node: Node, spatial: [Int], kernel: [Int], ceilMode: Bool = false) throws {
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
      self.init(inH: 1, inW: spatial[0], kH: 1, kW: kernel[0], strideH: 1, strideW: strides[0], dilH: 1, dilW: dil[0],
        padTop: 0, padLeft: pads[0], padBottom: 0, padRight: pads[1], outH: 1, outW: out[0])
    } else {
      self.init(inH: spatial[0], inW: spatial[1], kH: kernel[0], kW: kernel[1], strideH: strides[0], strideW: strides[1],
        dilH: dil[0], dilW: dil[1], padTop: pads[0], padLeft: pads[1], padBottom: pads[2], padRight: pads[3],
        outH: out[0], outW: out[1])
    }
  }

  /// A Conv's window on an input of shape `input` (N, C, spatial…); `weight` is the weight's
  /// shape (its spatial dims are the kernel).
  public init(node: Node, input: [Int], weight: [Int]) throws {
    try self.init(node: node, spatial: Array(input.dropFirst(2)), kernel: Array(weight.dropFirst(2)))
  }

  /// A window of `kernel` spatial dims on an input of shape `input` (pools: `kernel_shape`, `ceil_mode`).
  public init(node: Node, input: [Int], kernel: [Int], ceilMode: Bool = false) throws {
    try self.init(node: node, spatial: Array(input.dropFirst(2)), kernel: kernel, ceilMode: ceilMode)
  }
}
