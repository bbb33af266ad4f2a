import CKernels

/// The shape of one 2-D convolution on a single image (1-D convolutions have height 1).
public struct ConvShape: Sendable {
  public var inChannels: Int, outChannels: Int, groups: Int
  public var window: ck_conv_geometry

  public init(inChannels: Int, outChannels: Int, groups: Int, window: ck_conv_geometry) throws {
    guard groups > 0, inChannels % groups == 0, outChannels % groups == 0 else {
      throw KernelError("\(inChannels) input and \(outChannels) output channels do not split into \(groups) groups")
    }
    guard window.out_h > 0, window.out_w > 0, window.k_h > 0, window.k_w > 0 else {
      throw KernelError("empty convolution window \(window)")
    }
    self.inChannels = inChannels
    self.outChannels = outChannels
    self.groups = groups
    self.window = window
  }

  public var inputPlane: Int { Int(window.in_h) * Int(window.in_w) }
  public var outputPlane: Int { Int(window.out_h) * Int(window.out_w) }
  public var taps: Int { Int(window.k_h) * Int(window.k_w) }
  /// k of the GEMM: input channels per group × taps.
  public var depth: Int { inChannels / groups * taps }
  /// One output channel per input channel, each with its own filter.
  public var isDepthwise: Bool { groups == inChannels && groups == outChannels && groups > 1 }
  /// 1×1, stride 1, no padding: the input planes are already the im2col matrix.
  public var isPointwise: Bool {
    let w = window
    return w.k_h == 1 && w.k_w == 1 && w.stride_h == 1 && w.stride_w == 1 && w.pad_top == 0 && w.pad_left == 0
      && w.out_h == w.in_h && w.out_w == w.in_w
  }
  /// Multiply-adds of one image.
  public var multiplyAdds: Int { outChannels * outputPlane * depth }
}
