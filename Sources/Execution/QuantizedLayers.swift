import Foundation
import GraphIR
import Kernels
import TensorCore

/// How one layer runs off the FP32 path: its weights already quantized (by the Quantizers
/// module, which chooses ranges and rounding) and its input's affine parameters.
public enum LayerQuantization: Sendable {
  /// Integer weights w[n][k] (rows = output channels, k = the layer's depth in the order the
  /// kernels read it: Conv [in/group][kH][kW], MatMul/Gemm the reduction axis) with
  /// scales[n][group], and the uint8 quantization of the layer input.
  /// `biasShift` is added to the layer's bias (bias correction). With `dynamicInput` the input's
  /// parameters are taken from each call's minimum and maximum (`ActivationParameters.dynamic`)
  /// and `input` is unused.
  case integer(bits: Int, values: [Int8], scales: [Float], group: Int?, input: ActivationParameters, biasShift: [Float]? = nil,
    dynamicInput: Bool = false)
  /// binary16 weights and activations (the layer's FP32 weights rounded when packed; a table's
  /// rows rounded and gathered as binary16).
  case half
  /// Integer codes of an embedding table, t[row][k] with scales[row][group]: weight-only (its
  /// input is indices), the gathered rows are dequantized as they are read.
  case table(bits: Int, values: [Int8], scales: [Float], group: Int?)
  /// A MatMul between two activations: the left input as uint8 codes, the right as symmetric
  /// int8 codes (zero point 128 in the uint8 form), int32 products (`QuantizedProduct`).
  case product(left: ActivationParameters, right: ActivationParameters)
}

/// A Conv, MatMul or Gemm node running on the quantized kernels, or an embedding table's Gather
/// reading its codes. Kernels are built (weights packed, table rows prepared) once and reused.
public final class QuantizedLayer: @unchecked Sendable {
  let node: Node
  let spec: LayerQuantization
  /// FP32 weight tensor as in the graph (Conv [out][in/g][kh][kw], MatMul [K][N], Gemm as stored).
  let weight: Tensor
  let bias: [Float]?
  let epilogue: Epilogue
  private let lock = NSLock()
  private var cache: [[Int]: AnyObject] = [:]

  init(node: Node, spec: LayerQuantization, weight: Tensor, bias: [Float]?, epilogue: Epilogue) {
    self.node = node
    self.spec = spec
    self.weight = weight
    if case .integer(_, _, _, _, _, let shift?, _) = spec {
      self.bias = zip(bias ?? [Float](repeating: 0, count: shift.count), shift).map { $0 + $1 }
    } else {
      self.bias = bias
    }
    self.epilogue = epilogue
  }

  /// Clip bounds the kernel epilogue applies itself; the rest of the epilogue runs afterwards.
  var kernelClip: ClosedRange<Float>? { epilogue.kernelClip }

  func run(_ x: Tensor) throws -> Tensor {
    switch node.opType {
    case "Conv": return try conv(x)
    case "Gather": return try gather(x)
    default: return try linear(x)
    }
  }

  /// The node input `run` takes: the indices of a table, the activation of the others.
  var runInput: Int { node.opType == "Gather" ? 1 : 0 }

  private func kernel<T: AnyObject>(for shape: [Int], _ make: () throws -> T) rethrows -> T {
    lock.lock()
    defer { lock.unlock() }
    if let k = cache[shape] as? T { return k }
    let k = try make()
    cache[shape] = k
    return k
  }

  // MARK: Conv

  private func conv(_ x: Tensor) throws -> Tensor {
    guard x.rank == weight.rank, x.rank == 3 || x.rank == 4 else {
      throw opError(node, "input \(x.shape) and weight \(weight.shape) must both be 3-D or 4-D")
    }
    let xv = try x.floatValues(node)
    let shape = try ConvShape(inChannels: x.shape[1], outChannels: weight.shape[0], groups: node.int("group", default: 1),
      window: ConvWindow(node: node, input: x.shape, weight: weight.shape))
    let n = x.shape[0], inCount = shape.inChannels * shape.inputPlane, outCount = shape.outChannels * shape.outputPlane
    // The kernels store every element (no zero fill first).
    var out = shape.depth > 0 ? [Float](uninitializedForKernels: n * outCount) : [Float](repeating: 0, count: n * outCount)
    let ep = KernelEpilogue(bias: bias, clip: kernelClip, output: .float32)
    try xv.withUnsafeBufferPointer { px in
      try out.withUnsafeMutableBufferPointer { po in
        switch spec {
        case .integer(let bits, let values, let scales, let group, let calibrated, _, let dynamic):
          let input = dynamic ? Self.dynamicParameters(px) : calibrated
          let k = try kernel(for: x.shape) {
            try QuantizedConvolution(shape: shape, bits: bits, values: values, scales: scales, weightGroup: group)
          }
          try Self.images(n) { i, threads in
            try k.run(input: px.baseAddress! + i * inCount, scale: input.scale, zero: input.zero, epilogue: ep,
              output: UnsafeMutableRawPointer(po.baseAddress! + i * outCount), threads: threads)
          }
        case .table, .product:
          throw opError(node, "a Conv cannot run as a table or an activation product")
        case .half:
          let k = try kernel(for: x.shape) { try HalfConvolution(shape: shape, values: try weight.floatValues(node)) }
          try Self.images(n) { i, threads in
            try k.run(input: px.baseAddress! + i * inCount, epilogue: ep, output: UnsafeMutableRawPointer(po.baseAddress! + i * outCount),
              threads: threads)
          }
        }
        epilogue.afterKernel.applyInParallel(po.baseAddress!, count: po.count)
      }
    }
    let outShape = x.rank == 3 ? [n, shape.outChannels, shape.window.outW] : [n, shape.outChannels, shape.window.outH, shape.window.outW]
    return Tensor(dtype: x.dtype, shape: outShape, storage: .float(out))
  }

  /// Runs `body(image, threads)` for every image of a batch: one image per core at a time
  /// (`threads` 1, no hand-offs inside an image) when there are enough images, else one after
  /// another over all the cores. The first error thrown is rethrown.
  static func images(_ n: Int, _ body: (Int, Int?) throws -> Void) throws {
    guard n >= Parallel.cores, Parallel.cores > 1 else {
      for i in 0..<n { try body(i, nil) }
      return
    }
    let failure = FirstError()
    Parallel.forEach(n, costPerItem: 1 << 20) { i in
      do { try body(i, 1) } catch { failure.record(error) }
    }
    if let error = failure.error { throw error }
  }

  // MARK: MatMul / Gemm (weight on the right: y = x · W (+ bias))

  private var layout: WeightLayout { WeightLayout(node, weight: weight.shape) }

  private func linear(_ x: Tensor) throws -> Tensor {
    let n = layout.rows, k = layout.depth
    guard x.rank >= 1, x.shape.last == k else { throw opError(node, "input \(x.shape) does not end in depth \(k)") }
    let m = x.count / k
    let xv = try x.floatValues(node)
    var out = k > 0 ? [Float](uninitializedForKernels: m * n) : [Float](repeating: 0, count: m * n)
    let ep = KernelEpilogue(bias: bias, clip: kernelClip, output: .float32)
    try xv.withUnsafeBufferPointer { px in
      try out.withUnsafeMutableBufferPointer { po in
        let y = UnsafeMutableRawPointer(po.baseAddress!)
        switch spec {
        case .integer(let bits, let values, let scales, let group, let calibrated, _, let dynamic):
          let input = dynamic ? Self.dynamicParameters(px) : calibrated
          let w = try kernel(for: [n, k]) {
            try QuantizedWeights(bits: bits, rows: n, depth: k, values: values, scales: scales, group: group)
          }
          let codes = AlignedBuffer(bytes: m * k)
          let q = codes.raw.assumingMemoryBound(to: UInt8.self)
          ActivationCodes.quantize(px.baseAddress!, count: m * k, scale: input.scale, zero: input.zero, into: q)
          let a = QuantizedActivations(codes: q, layout: .rows(count: m, stride: k), scale: input.scale, zero: input.zero)
          try QuantizedGEMM.run(w, a, epilogue: ep, output: y, rowStride: 1, columnStride: n)
        case .table, .product:
          throw opError(node, "a \(node.opType) with a constant weight cannot run as a table or an activation product")
        case .half:
          let w = try kernel(for: [n, k]) { try HalfWeights(rows: n, depth: k, float: layout.rowsMajor(try weight.floatValues(node))) }
          let halves = AlignedBuffer(bytes: m * k * 2)
          let h = halves.raw.assumingMemoryBound(to: UInt16.self)
          ActivationCodes.toHalf(px.baseAddress!, count: m * k, into: h)
          try HalfGEMM.run(w, h, layout: .rows(count: m, stride: k), epilogue: ep, output: y, rowStride: 1, columnStride: n)
        }
        epilogue.afterKernel.applyInParallel(po.baseAddress!, count: po.count)
      }
    }
    return Tensor(dtype: x.dtype, shape: Array(x.shape.dropLast()) + [n], storage: .float(out))
  }

  /// The uint8 parameters DynamicQuantizeLinear gives `x`: its minimum and maximum, 0 included.
  static func dynamicParameters(_ x: UnsafeBufferPointer<Float>) -> ActivationParameters {
    guard let base = x.baseAddress else { return ActivationParameters.dynamic(lo: 0, hi: 0) }
    let r = ActivationCodes.range(base, count: x.count)
    return ActivationParameters.dynamic(lo: r.lo, hi: r.hi)
  }

  // MARK: Gather of an embedding table

  /// Rows of the table as the lookup reads them: dequantized codes (integer) or binary16 (half).
  private final class TableRows {
    let rows: Int, width: Int
    let read: (Int, UnsafeMutablePointer<Float>) -> Void
    init(rows: Int, width: Int, read: @escaping (Int, UnsafeMutablePointer<Float>) -> Void) {
      self.rows = rows
      self.width = width
      self.read = read
    }
  }

  private func tableRows() throws -> TableRows {
    let rows = weight.shape[0], width = weight.shape[1]
    return try kernel(for: weight.shape) {
      switch spec {
      case .table(_, let values, let scales, let group):
        let span = group ?? width, groups = (width + span - 1) / span
        guard values.count == rows * width, scales.count == rows * groups else {
          throw opError(node, "table codes \(values.count) and scales \(scales.count) do not fit \(weight.shape)")
        }
        return TableRows(rows: rows, width: width) { r, out in
          for k in 0..<width { out[k] = Float(values[r * width + k]) * scales[r * groups + k / span] }
        }
      case .half:
        let halves = try weight.floatValues(node).map { Float16($0) }
        return TableRows(rows: rows, width: width) { r, out in
          for k in 0..<width { out[k] = Float(halves[r * width + k]) }
        }
      case .integer, .product:
        throw opError(node, "an embedding table runs weight-only (its input is indices)")
      }
    }
  }

  /// Gather along axis 0: output = indices.shape + [row length], negative indices from the end.
  private func gather(_ indices: Tensor) throws -> Tensor {
    let t = try tableRows()
    let idx = try indices.asInts()
    var out = [Float](repeating: 0, count: idx.count * t.width)
    try out.withUnsafeMutableBufferPointer { po in
      for (i, raw) in idx.enumerated() {
        let r = raw < 0 ? Int(raw) + t.rows : Int(raw)
        guard (0..<t.rows).contains(r) else { throw opError(node, "index \(raw) out of range for a table of \(t.rows) rows") }
        t.read(r, po.baseAddress! + i * t.width)
      }
    }
    return Tensor(dtype: weight.dtype, shape: indices.shape + [t.width], storage: .float(out))
  }

  /// Whether `node` (in `graph`) can run quantized: a constant weight on the right (MatMul with a
  /// 2-D weight, Gemm without transA and with alpha = beta = 1 and a per-column bias), a Conv, or
  /// an embedding table (Gather along axis 0 of a constant 2-D float32 table).
  public static func supports(_ node: Node, in graph: Graph) -> Bool {
    if node.opType == "Gather" { return graph.embeddingTable(node) != nil }
    guard let wName = node.input(1), let w = graph.initializers[wName], w.dtype == .float32 else { return false }
    switch node.opType {
    case "Conv": return w.rank == 3 || w.rank == 4
    case "MatMul": return w.rank == 2
    case "Gemm":
      guard w.rank == 2, node.int("transA", default: 0) == 0, node.float("alpha", default: 1) == 1 else { return false }
      guard let c = node.input(2), !c.isEmpty else { return true }
      let n = WeightLayout(node, weight: w.shape).rows
      return node.float("beta", default: 1) == 1 && graph.initializers[c].map { $0.count == n } == true
    default: return false
    }
  }
}

/// The first error recorded by any of several parallel tasks.
final class FirstError: @unchecked Sendable {
  private let lock = NSLock()
  private(set) var error: Error?

  func record(_ e: Error) {
    lock.lock()
    if error == nil { error = e }
    lock.unlock()
  }
}

extension Array where Element == Float {
  /// `count` floats left as the allocator gives them, for an output a kernel then stores in full.
  init(uninitializedForKernels count: Int) {
    self.init(unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
  }
}
