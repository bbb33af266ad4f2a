/// The shape of one 2-D convolution on a single image: channels, groups and its window.
public struct ConvShape: Sendable {
  public var inChannels: Int, outChannels: Int, groups: Int
  public var window: ConvWindow

  public init(inChannels: Int, outChannels: Int, groups: Int, window: ConvWindow) throws {
    guard groups > 0, inChannels % groups == 0, outChannels % groups == 0 else {
      throw KernelError("\(inChannels) input and \(outChannels) output channels do not split into \(groups) groups")
    }
    guard window.outH > 0, window.outW > 0, window.kH > 0, window.kW > 0 else {
      throw KernelError("empty convolution window \(window)")
    }
    self.inChannels = inChannels
    self.outChannels = outChannels
    self.groups = groups
    self.window = window
  }

  public var inputPlane: Int { window.inputPlane }
  public var outputPlane: Int { window.outputPlane }
  public var taps: Int { window.taps }
  /// k of the GEMM: input channels per group × taps.
  public var depth: Int { inChannels / groups * taps }
  /// One output channel per input channel, each with its own filter.
  public var isDepthwise: Bool { groups == inChannels && groups == outChannels && groups > 1 }
  public var isPointwise: Bool { window.isPointwise }
  /// Multiply-adds of one image.
  public var multiplyAdds: Int { outChannels * outputPlane * depth }
}
