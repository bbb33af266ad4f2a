import CKernels

/// A convolution with binary16 weights and activations in memory and float32 arithmetic.
///
/// General convolutions run as im2col + the half GEMM per group; depthwise ones widen each
/// binary16 plane and run the float32 depthwise kernel.
public final class HalfConvolution: @unchecked Sendable {
  public let shape: ConvShape
  let groupWeights: [HalfWeights]
  /// Depthwise: taps rounded to binary16 and widened back.
  let taps: [Float]

  /// - Parameter values: float32 weights [out][in / groups][k_h][k_w], rounded to binary16 here.
  public init(shape: ConvShape, values: [Float]) throws {
    guard values.count == shape.outChannels * shape.depth else {
      throw KernelError("convolution weights: \(values.count) values for \(shape.outChannels)×\(shape.depth)")
    }
    self.shape = shape
    var halves = [UInt16](repeating: 0, count: values.count)
    values.withUnsafeBufferPointer { src in
      halves.withUnsafeMutableBufferPointer { ActivationCodes.toHalf(src.baseAddress!, count: values.count, into: $0.baseAddress!) }
    }
    if shape.isDepthwise {
      var widened = [Float](repeating: 0, count: values.count)
      halves.withUnsafeBufferPointer { src in
        widened.withUnsafeMutableBufferPointer { ActivationCodes.fromHalf(src.baseAddress!, count: values.count, into: $0.baseAddress!) }
      }
      taps = widened
      groupWeights = []
      return
    }
    taps = []
    let rows = shape.outChannels / shape.groups, depth = shape.depth
    groupWeights = try (0..<shape.groups).map { g in
      try HalfWeights(rows: rows, depth: depth, values: Array(halves[(g * rows * depth)..<((g + 1) * rows * depth)]))
    }
  }

  public var isDepthwise: Bool { groupWeights.isEmpty }
  public var packedBytes: Int { shape.outChannels * shape.depth * 2 }

  /// Rounds a float32 image [in][H][W] to binary16 and runs the convolution; writes
  /// [out][outH][outW] as float32 or float16.
  public func run(
    input: UnsafePointer<Float>, epilogue: KernelEpilogue, output: UnsafeMutableRawPointer,
    isa: KernelISA = .selected, threads: Int? = nil
  ) throws {
    let count = shape.inChannels * shape.inputPlane
    let halves = AlignedBuffer(bytes: count * 2)
    let h = halves.raw.assumingMemoryBound(to: UInt16.self)
    ActivationCodes.toHalf(input, count: count, into: h, isa: isa, threads: threads)
    try run(halves: h, epilogue: epilogue, output: output, isa: isa, threads: threads)
  }

  /// Runs on a binary16 image [in][H][W].
  public func run(
    halves: UnsafePointer<UInt16>, epilogue: KernelEpilogue, output: UnsafeMutableRawPointer,
    isa: KernelISA = .selected, threads: Int? = nil
  ) throws {
    guard epilogue.output == .float32 || epilogue.output == .float16 else {
      throw KernelError("half convolutions write float32 or float16, not \(epilogue.output)")
    }
    if let bias = epilogue.bias, bias.count != shape.outChannels {
      throw KernelError("bias has \(bias.count) values for \(shape.outChannels) output channels")
    }
    if isDepthwise {
      runDepthwise(halves: halves, epilogue: epilogue, output: output, isa: isa, threads: threads)
      return
    }
    let plane = shape.outputPlane, rows = shape.outChannels / shape.groups, cin = shape.inChannels / shape.groups
    var window = shape.window.c
    let columns = shape.isPointwise ? nil : AlignedBuffer(bytes: shape.depth * plane * 2)
    for (g, w) in groupWeights.enumerated() {
      var source = halves + g * cin * shape.inputPlane
      if let columns {
        let col = columns.raw.assumingMemoryBound(to: UInt16.self)
        ck_im2col_u16(source, Int32(cin), &window, 0, col)
        source = UnsafePointer(col)
      }
      var part = epilogue
      part.bias = epilogue.bias.map { Array($0[(g * rows)..<((g + 1) * rows)]) }
      try HalfGEMM.run(
        w, source, layout: .columns(count: plane, stride: plane), epilogue: part,
        output: output + g * rows * plane * epilogue.output.elementBytes, rowStride: plane, columnStride: 1,
        isa: isa, threads: threads)
    }
  }

  private func runDepthwise(
    halves: UnsafePointer<UInt16>, epilogue: KernelEpilogue, output: UnsafeMutableRawPointer, isa: KernelISA,
    threads: Int?
  ) {
    let kernel = ck_depthwise_f32_for(isa.c)!
    var window = shape.window.c
    let scratchFloats = ck_depthwise_f32_scratch_floats(&window)
    let inPlane = shape.inputPlane, outPlane = shape.outputPlane, kk = shape.taps
    let lo = epilogue.clip?.lowerBound ?? -.infinity, hi = epilogue.clip?.upperBound ?? .infinity
    let half = epilogue.output == .float16
    taps.withUnsafeBufferPointer { w in
      Parallel.forEachRange(shape.outChannels, costPerItem: outPlane * kk, threads: threads) { range in
        let plane = AlignedBuffer(bytes: (inPlane + outPlane + scratchFloats) * 4)
        let x = plane.raw.assumingMemoryBound(to: Float.self), y = x + inPlane, scratch = y + outPlane
        var window = window
        for c in range {
          ck_f16_to_f32_for(isa.c)!(halves + c * inPlane, inPlane, x)
          kernel(x, w.baseAddress! + c * kk, epilogue.bias?[c] ?? 0, y, &window, scratch)
          for i in 0..<outPlane { y[i] = Swift.min(Swift.max(y[i], lo), hi) }
          if half {
            ck_f32_to_f16_for(isa.c)!(y, outPlane, (output + c * outPlane * 2).assumingMemoryBound(to: UInt16.self))
          } else {
            (output + c * outPlane * 4).assumingMemoryBound(to: Float.self).update(from: y, count: outPlane)
          }
        }
      }
    }
  }
}
