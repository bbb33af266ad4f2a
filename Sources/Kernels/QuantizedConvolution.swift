import CKernels

/// A convolution with integer weights (int8 or int4) on uint8 activations, weights packed once.
///
/// General convolutions run as im2col + the integer GEMM per group (1×1 stride-1 ones skip the
/// im2col); depthwise ones run the direct depthwise kernel.
public final class QuantizedConvolution: @unchecked Sendable {
  public let shape: ConvShape
  public let bits: Int
  let groupWeights: [QuantizedWeights]
  /// Depthwise: taps[c][kh][kw] and one scale per channel.
  let taps: [Int8], tapScales: [Float]

  /// - Parameters:
  ///   - values: weights [out][in / groups][k_h][k_w], in the range of `bits`.
  ///   - scales: one per output channel, or out × (depth / weightGroup) with a weight group.
  public init(shape: ConvShape, bits: Int, values: [Int8], scales: [Float], weightGroup: Int? = nil) throws {
    guard values.count == shape.outChannels * shape.depth else {
      throw KernelError("convolution weights: \(values.count) values for \(shape.outChannels)×\(shape.depth)")
    }
    self.shape = shape
    self.bits = bits
    if shape.isDepthwise && weightGroup == nil && shape.taps <= Int(CK_Q_DEPTHWISE_MAX_TAPS) {
      guard scales.count == shape.outChannels, scales.allSatisfy({ $0.isFinite && $0 > 0 }) else {
        throw KernelError("depthwise weights need \(shape.outChannels) positive finite scales, got \(scales.count)")
      }
      let lo: Int8 = bits == 4 ? -8 : -128, hi: Int8 = bits == 4 ? 7 : 127
      guard bits == 8 || bits == 4, values.allSatisfy({ $0 >= lo && $0 <= hi }) else {
        throw KernelError("depthwise weights must be int8 or int4 values in range")
      }
      taps = values
      tapScales = scales
      groupWeights = []
      return
    }
    taps = []
    tapScales = []
    let rows = shape.outChannels / shape.groups, depth = shape.depth
    let scalesPerRow = scales.count / shape.outChannels
    guard scalesPerRow * shape.outChannels == scales.count else {
      throw KernelError("\(scales.count) scales do not divide over \(shape.outChannels) output channels")
    }
    groupWeights = try (0..<shape.groups).map { g in
      try QuantizedWeights(
        bits: bits, rows: rows, depth: depth, values: Array(values[(g * rows * depth)..<((g + 1) * rows * depth)]),
        scales: Array(scales[(g * rows * scalesPerRow)..<((g + 1) * rows * scalesPerRow)]), group: weightGroup)
    }
  }

  public var isDepthwise: Bool { groupWeights.isEmpty }
  public var packedBytes: Int { isDepthwise ? (taps.count * bits + 7) / 8 : groupWeights.reduce(0) { $0 + $1.packedBytes } }

  /// Quantizes a float32 image [in][H][W] with (scale, zero) and runs the convolution.
  public func run(
    input: UnsafePointer<Float>, scale: Float, zero: Int32, epilogue: KernelEpilogue, output: UnsafeMutableRawPointer,
    isa: KernelISA = .selected, threads: Int? = nil
  ) throws {
    let count = shape.inChannels * shape.inputPlane
    let codes = AlignedBuffer(bytes: count)
    let q = codes.raw.assumingMemoryBound(to: UInt8.self)
    ActivationCodes.quantize(input, count: count, scale: scale, zero: zero, into: q, isa: isa, threads: threads)
    try run(codes: q, scale: scale, zero: zero, epilogue: epilogue, output: output, isa: isa, threads: threads)
  }

  /// Runs on an already quantized image [in][H][W]; writes [out][outH][outW] in the output type.
  public func run(
    codes: UnsafePointer<UInt8>, scale: Float, zero: Int32, epilogue: KernelEpilogue, output: UnsafeMutableRawPointer,
    isa: KernelISA = .selected, threads: Int? = nil
  ) throws {
    if let bias = epilogue.bias, bias.count != shape.outChannels {
      throw KernelError("bias has \(bias.count) values for \(shape.outChannels) output channels")
    }
    if isDepthwise {
      try runDepthwise(codes: codes, scale: scale, zero: zero, epilogue: epilogue, output: output, isa: isa, threads: threads)
      return
    }
    let plane = shape.outputPlane, rows = shape.outChannels / shape.groups, cin = shape.inChannels / shape.groups
    var window = shape.window.c
    let columns = shape.isPointwise ? nil : AlignedBuffer(bytes: shape.depth * plane)
    for (g, w) in groupWeights.enumerated() {
      var source = codes + g * cin * shape.inputPlane
      if let columns {
        let col = columns.raw.assumingMemoryBound(to: UInt8.self)
        ck_im2col_u8(source, Int32(cin), &window, UInt8(truncatingIfNeeded: zero), col)
        source = UnsafePointer(col)
      }
      var part = epilogue
      part.bias = epilogue.bias.map { Array($0[(g * rows)..<((g + 1) * rows)]) }
      let x = QuantizedActivations(codes: source, layout: .columns(count: plane, stride: plane), scale: scale, zero: zero)
      try QuantizedGEMM.run(
        w, x, epilogue: part, output: output + g * rows * plane * epilogue.output.elementBytes, rowStride: plane,
        columnStride: 1, isa: isa, threads: threads)
    }
  }

  private func runDepthwise(
    codes: UnsafePointer<UInt8>, scale: Float, zero: Int32, epilogue: KernelEpilogue, output: UnsafeMutableRawPointer,
    isa: KernelISA, threads: Int?
  ) throws {
    if case .int32 = epilogue.output { throw KernelError("the depthwise kernel does not write raw int32 sums") }
    let kernel = ck_q_depthwise_for(isa.c)!
    var window = shape.window.c
    let scratchFloats = ck_q_depthwise_scratch_floats(&window)
    let inPlane = shape.inputPlane, outPlane = shape.outputPlane, kk = shape.taps
    let bytes = epilogue.output.elementBytes
    let template = epilogue.c(bias: nil, y: output, rowStride: 0, columnStride: 1)
    withBias(epilogue.bias) { bias in
      taps.withUnsafeBufferPointer { w in
        Parallel.forEachRange(shape.outChannels, costPerItem: outPlane * kk, threads: threads) { range in
          let scratch = AlignedBuffer(bytes: scratchFloats * 4)
          var window = window
          for c in range {
            var e = template
            e.y = output + c * outPlane * bytes
            e.bias = bias.map { $0 + c }
            kernel(codes + c * inPlane, zero, scale, w.baseAddress! + c * kk, tapScales[c], &window, &e,
              scratch.raw.assumingMemoryBound(to: Float.self))
          }
        }
      }
    }
  }
}
