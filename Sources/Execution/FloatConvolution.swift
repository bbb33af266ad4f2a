import Kernels

/// One FP32 convolution layer as the runtime runs it (weights packed once on first use, the
/// pointwise/implicit-GEMM or depthwise kernels), for callers outside a session: `bench kernels`.
public final class FloatConvolution: @unchecked Sendable {
  public let shape: ConvShape
  let weights: [Float], bias: [Float]?
  let packed = PackedFloatWeights()

  /// `weights` are [outChannels][inChannels/groups][kH][kW].
  public init(shape: ConvShape, weights: [Float], bias: [Float]? = nil) throws {
    guard weights.count == shape.outChannels * shape.depth else {
      throw KernelError("\(weights.count) weights for \(shape.outChannels) × \(shape.depth)")
    }
    if let b = bias, b.count != shape.outChannels { throw KernelError("\(b.count) biases for \(shape.outChannels) outputs") }
    self.shape = shape
    self.weights = weights
    self.bias = bias
  }

  /// Output of `images` NCHW images `x` (`images · inChannels · inputPlane` values).
  public func run(_ x: [Float], images: Int) throws -> [Float] {
    guard images >= 0, x.count == images * shape.inChannels * shape.inputPlane else {
      throw KernelError("\(x.count) input values for \(images) images of \(shape.inChannels) × \(shape.inputPlane)")
    }
    return ConvKernels.conv2d(x: x, n: images, c: shape.inChannels, w: weights, oc: shape.outChannels, group: shape.groups,
      bias: bias, geo: shape.window, packed: packed)
  }
}
