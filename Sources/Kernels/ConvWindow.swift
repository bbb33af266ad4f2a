import CKernels

/// The spatial window of one 2-D convolution or pooling on a single image: the one geometry type
/// of the runtime, the kernels, the gradients and calibration (1-D windows have height 1).
///
///     out = floor((in + padBegin + padEnd − ((k − 1)·dilation + 1)) / stride) + 1
///
/// `ck_conv_geometry` is its C mirror (`c`), built only here.
public struct ConvWindow: Equatable, Sendable {
  public var inH: Int, inW: Int
  public var kH: Int, kW: Int
  public var strideH: Int, strideW: Int
  public var dilH: Int, dilW: Int
  public var padTop: Int, padLeft: Int, padBottom: Int, padRight: Int
  public var outH: Int, outW: Int

  public init(inH: Int, inW: Int, kH: Int, kW: Int, strideH: Int = 1, strideW: Int = 1, dilH: Int = 1, dilW: Int = 1,
              padTop: Int = 0, padLeft: Int = 0, padBottom: Int = 0, padRight: Int = 0, outH: Int, outW: Int) {
    self.inH = inH; self.inW = inW; self.kH = kH; self.kW = kW
    self.strideH = strideH; self.strideW = strideW; self.dilH = dilH; self.dilW = dilW
    self.padTop = padTop; self.padLeft = padLeft; self.padBottom = padBottom; self.padRight = padRight
    self.outH = outH; self.outW = outW
  }

  /// The window whose output size follows from the input, kernel, strides, dilations and pads.
  public init(inH: Int, inW: Int, kH: Int, kW: Int, strideH: Int = 1, strideW: Int = 1, dilH: Int = 1, dilW: Int = 1,
              padTop: Int = 0, padLeft: Int = 0, padBottom: Int = 0, padRight: Int = 0) {
    func out(_ n: Int, _ k: Int, _ s: Int, _ d: Int, _ p: Int) -> Int {
      let span = n + p - ((k - 1) * d + 1)
      return span < 0 ? 0 : span / s + 1
    }
    self.init(inH: inH, inW: inW, kH: kH, kW: kW, strideH: strideH, strideW: strideW, dilH: dilH, dilW: dilW,
      padTop: padTop, padLeft: padLeft, padBottom: padBottom, padRight: padRight,
      outH: out(inH, kH, strideH, dilH, padTop + padBottom), outW: out(inW, kW, strideW, dilW, padLeft + padRight))
  }

  public var inputPlane: Int { inH * inW }
  public var outputPlane: Int { outH * outW }
  public var taps: Int { kH * kW }

  /// 1×1, stride 1, no padding: the input planes are already the im2col matrix.
  public var isPointwise: Bool {
    kH == 1 && kW == 1 && strideH == 1 && strideW == 1 && padTop == 0 && padLeft == 0 && padBottom == 0 && padRight == 0
  }

  /// The C kernels' view of the same window.
  public var c: ck_conv_geometry {
    ck_conv_geometry(in_h: Int32(inH), in_w: Int32(inW), k_h: Int32(kH), k_w: Int32(kW), stride_h: Int32(strideH),
      stride_w: Int32(strideW), dil_h: Int32(dilH), dil_w: Int32(dilW), pad_top: Int32(padTop), pad_left: Int32(padLeft),
      out_h: Int32(outH), out_w: Int32(outW))
  }
}
