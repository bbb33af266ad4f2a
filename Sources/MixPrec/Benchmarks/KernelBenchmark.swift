import Dispatch
import Execution
import Foundation
import Kernels
import TensorCore

/// `mixprec bench kernels`: GOP/s of the integer, W4A8, half and FP32 kernels at fixed GEMM shapes
/// and on a model's convolutions (FP32 through the runtime's own convolution path), at each thread
/// count, beside ONNX Runtime on the same shapes and OpenBLAS sgemm.
public struct KernelBenchmark {
  public struct Row: Sendable {
    public var kernel: String
    public var m: Int, n: Int, k: Int
    public var threads: Int
    public var seconds: Double
    public var layer: String? = nil
    public var group: String? = nil
    public var ortKernel: String? = nil
    public var ortGops: Double? = nil
    public var gops: Double { 2 * Double(m) * Double(n) * Double(k) / seconds / 1e9 }
  }

  public var threadCounts: [Int]
  public var ort: Bool
  /// The convolutions timed beside the GEMM shapes (a model's, at its input shapes).
  public var layers: [ConvLayerShape]
  public var minSeconds = 0.25
  public let isa = KernelISA.selected

  public init(threadCounts: [Int], ort: Bool, layers: [ConvLayerShape], minSeconds: Double) {
    self.threadCounts = threadCounts
    self.ort = ort
    self.layers = layers
    self.minSeconds = minSeconds
  }

  /// GEMM shapes (m activation rows/pixels, n output channels, k depth): square ones and a GEMV.
  static let gemmShapes = [(512, 512, 512), (1024, 1024, 1024), (1, 4096, 4096)]

  /// MatMul shapes (m token rows, n outputs, k depth) of a small transformer encoder at batch 1
  /// and 8: activations packed every call against weights packed once, as the runtime runs them.
  static let matmulShapes = [(32, 1536, 384), (32, 384, 1536), (32, 384, 384), (256, 1536, 384), (256, 384, 1536), (256, 384, 384)]

  /// Every row, ONNX Runtime's figures attached when asked (notes about a missing peer go to `note`).
  public func run(note: (String) -> Void = { _ in }) throws -> [Row] {
    var rng = SeededGenerator(seed: 1)
    var rows: [Row] = []
    for t in threadCounts {
      if isa.dotProductPeakOps(iterations: 1) > 0 { rows.append(peakRow(threads: t)) }
      for (m, n, k) in Self.gemmShapes {
        rows += try gemmRows(m: m, n: n, k: k, threads: t, rng: &rng)
      }
      for (m, n, k) in Self.matmulShapes {
        rows.append(matmulRow(m: m, n: n, k: k, threads: t, rng: &rng))
        rows.append(matmulRow(m: m, n: n, k: k, threads: t, rng: &rng, cold: true))
      }
      for layer in layers { rows += try convRows(layer, threads: t, rng: &rng) }
      rows += totals(rows.filter { $0.threads == t && $0.layer != nil }, threads: t)
    }
    if ort { attachORT(&rows, layers: layers, note: note) }
    return rows
  }

  // MARK: measurements

  /// Median seconds of `body` over at least `minSeconds` (and 5 runs) after warming up for a
  /// fifth of that (caches, page mappings, the core's clock); a single run when `minSeconds` is 0.
  func time(_ body: () throws -> Void) rethrows -> Double {
    let warm = DispatchTime.now().uptimeNanoseconds
    while minSeconds > 0 && Double(DispatchTime.now().uptimeNanoseconds - warm) / 1e9 < minSeconds / 5 { try body() }
    var times: [Double] = []
    var total = 0.0
    while times.isEmpty || (minSeconds > 0 && (total < minSeconds || times.count < 5)) {
      let t0 = DispatchTime.now().uptimeNanoseconds
      try body()
      let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
      times.append(dt)
      total += dt
      if times.count >= 5000 { break }
    }
    times.sort()
    return times[times.count / 2]
  }

  /// The dot-product peak: every thread runs the VNNI loop at once; best of three (the first
  /// may run before the clock has ramped up).
  func peakRow(threads: Int) -> Row {
    let iterations = minSeconds > 0 ? 4_000_000 : 10_000
    var best = Double.infinity
    for _ in 0..<3 {
      let t0 = DispatchTime.now().uptimeNanoseconds
      Parallel.forEach(threads, costPerItem: .max / 4, threads: threads) { _ in
        _ = isa.dotProductPeakOps(iterations: iterations)
      }
      best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
    let ops = isa.dotProductPeakOps(iterations: 1) * Double(iterations) * Double(threads)
    // Reported as m·n·k with 2·m·n·k = ops.
    return Row(kernel: "vnni_peak", m: 1, n: 1, k: Int(ops / 2), threads: threads, seconds: best)
  }

  func gemmRows(m: Int, n: Int, k: Int, threads: Int, rng: inout SeededGenerator) throws -> [Row] {
    var out: [Row] = []
    let int8 = (0..<(n * k)).map { _ in Int8(truncatingIfNeeded: Int(rng.next() % 255) - 127) }
    let int4 = int8.map { $0 >> 4 }
    let codes = (0..<(m * k)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    // Activations k-major (the im2col orientation) for GEMM shapes, a plain row for the GEMV.
    let layout: ActivationLayout = m <= QuantizedGEMM.gemvColumns ? .rows(count: m, stride: k) : .columns(count: m, stride: m)
    let y = AlignedBuffer(bytes: n * m * 4)
    let variants: [(String, Int, Int?)] = [("int8_gemm", 8, nil), ("w4a8_gemm", 4, nil), ("w4a8_gemm", 4, 128)]
    for (name, bits, group) in variants {
      let groups = group.map { (k + $0 - 1) / $0 } ?? 1
      let w = try QuantizedWeights(bits: bits, rows: n, depth: k, values: bits == 8 ? int8 : int4,
        scales: [Float](repeating: 0.01, count: n * groups), group: group)
      // Raw int32 sums (what MatMulInteger returns) with one scale per row, dequantized float32 otherwise.
      let epilogue = KernelEpilogue(output: group == nil ? .int32 : .float32)
      let seconds = try codes.withUnsafeBufferPointer { p in
        let x = QuantizedActivations(codes: p.baseAddress!, layout: layout, scale: 0.02, zero: 128)
        return try time {
          try QuantizedGEMM.run(w, x, epilogue: epilogue, output: y.raw, rowStride: m, columnStride: 1, isa: isa, threads: threads)
        }
      }
      out.append(Row(kernel: name, m: m, n: n, k: k, threads: threads, seconds: seconds,
        group: group.map(String.init) ?? "row", ortKernel: "int8_gemm"))
    }
    // Half precision against OpenBLAS sgemm on the same product.
    let floats = (0..<(n * k)).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 }
    let xs = (0..<(m * k)).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 }
    let hw = try HalfWeights(rows: n, depth: k, float: floats)
    var halves = [UInt16](repeating: 0, count: xs.count)
    xs.withUnsafeBufferPointer { p in halves.withUnsafeMutableBufferPointer { ActivationCodes.toHalf(p.baseAddress!, count: xs.count, into: $0.baseAddress!) } }
    let hs = try halves.withUnsafeBufferPointer { p in
      try time {
        try HalfGEMM.run(hw, p.baseAddress!, layout: layout, epilogue: KernelEpilogue(), output: y.raw, rowStride: m,
          columnStride: 1, isa: isa, threads: threads)
      }
    }
    out.append(Row(kernel: "fp16_gemm", m: m, n: n, k: k, threads: threads, seconds: hs, ortKernel: "fp32_gemm"))
    let ys = y.raw.assumingMemoryBound(to: Float.self)
    let bs = floats.withUnsafeBufferPointer { w in
      xs.withUnsafeBufferPointer { x in
        time {
          if threads > 1 {
            BLAS.sgemmParallel(m: n, n: m, k: k, a: w.baseAddress!, lda: k, b: x.baseAddress!, ldb: m, c: ys, ldc: m)
          } else {
            BLAS.sgemm(m: n, n: m, k: k, a: w.baseAddress!, lda: k, b: x.baseAddress!, ldb: m, c: ys, ldc: m)
          }
        }
      }
    }
    out.append(Row(kernel: "sgemm_openblas", m: m, n: n, k: k, threads: threads, seconds: bs, ortKernel: "fp32_gemm"))
    // Ours with the weights packed once, as a layer holds them.
    let rows = try floats.withUnsafeBufferPointer { try FloatRowPanels(rows: n, depth: k, values: $0) }
    let ours = xs.withUnsafeBufferPointer { x in
      time {
        FloatGEMM.run(rows: rows, columns: .matrix(x.baseAddress!, depthStride: m, columnStride: 1), count: m,
          output: ys, rowStride: m, columnStride: 1, isa: isa, threads: threads)
      }
    }
    out.append(Row(kernel: "sgemm_mixprec", m: m, n: n, k: k, threads: threads, seconds: ours, ortKernel: "fp32_gemm"))
    return out
  }

  /// y[m×n] = x[m×k] · w[k×n] with `w` packed once as column panels (a MatMul's constant B) and
  /// the activation rows read in place, as `LinearOps.matmul` does.
  ///
  /// `cold`: the call cycles through copies of the weights larger than the last-level cache
  /// together, so every call streams its weights from memory (as in a model whose weights
  /// exceed the cache); no peer figure.
  func matmulRow(m: Int, n: Int, k: Int, threads: Int, rng: inout SeededGenerator, cold: Bool = false) -> Row {
    let w = (0..<(k * n)).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 }
    let x = (0..<(m * k)).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 }
    let y = AlignedBuffer(bytes: m * n * 4)
    let ys = y.raw.assumingMemoryBound(to: Float.self)
    let copies = cold ? Swift.max(2, (96 << 20) / (k * n * 4)) : 1
    let columns = w.withUnsafeBufferPointer { p in
      (0..<copies).map { _ in FloatColumnPanels(columns: n, depth: k, p.baseAddress!, depthStride: n, columnStride: 1) }
    }
    var next = 0
    let seconds = x.withUnsafeBufferPointer { p in
      time {
        FloatGEMM.run(rowsInPlace: p.baseAddress!, rows: m, depth: k, lda: k, columns: .packed(columns[next]), count: n,
          output: ys, rowStride: n, columnStride: 1, isa: isa, threads: threads)
        next = (next + 1) % copies
      }
    }
    return Row(kernel: cold ? "sgemm_matmul_cold" : "sgemm_matmul", m: m, n: n, k: k, threads: threads, seconds: seconds,
      ortKernel: cold ? nil : "fp32_gemm")
  }

  func convRows(_ layer: ConvLayerShape, threads: Int, rng: inout SeededGenerator) throws -> [Row] {
    let s = layer.shape
    let inCount = s.inChannels * s.inputPlane
    let codes = (0..<inCount).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    let values = (0..<(s.outChannels * s.depth)).map { _ in Int8(truncatingIfNeeded: Int(rng.next() % 255) - 127) }
    let q = try QuantizedConvolution(shape: s, bits: 8, values: values, scales: [Float](repeating: 0.01, count: s.outChannels))
    let y = AlignedBuffer(bytes: s.outChannels * s.outputPlane * 4)
    // Requantized uint8 output, like QLinearConv.
    let epilogue = KernelEpilogue(bias: [Float](repeating: 0.1, count: s.outChannels), output: .uint8(scale: 0.05, zero: 128))
    let qs = try codes.withUnsafeBufferPointer { p in
      try time { try q.run(codes: p.baseAddress!, scale: 0.02, zero: 128, epilogue: epilogue, output: y.raw, isa: isa, threads: threads) }
    }
    let h = try HalfConvolution(shape: s, values: values.map { Float($0) / 127 })
    let halves = [UInt16](repeating: Float16(0.5).bitPattern, count: inCount)
    let hs = try halves.withUnsafeBufferPointer { p in
      try time { try h.run(halves: p.baseAddress!, epilogue: KernelEpilogue(output: .float16), output: y.raw, isa: isa, threads: threads) }
    }
    let f = try FloatConvolution(shape: s, weights: values.map { Float($0) / 127 }, bias: [Float](repeating: 0.1, count: s.outChannels))
    let floats = codes.map { Float($0) / 255 }
    let fs = try time { _ = try f.run(floats, images: 1) }
    let kind = s.isDepthwise ? "depthwise" : "conv"
    return [
      Row(kernel: "fp32_\(kind)", m: s.outputPlane, n: s.outChannels, k: s.depth, threads: threads, seconds: fs,
        layer: layer.name, ortKernel: "fp32_conv"),
      Row(kernel: "int8_\(kind)", m: s.outputPlane, n: s.outChannels, k: s.depth, threads: threads, seconds: qs,
        layer: layer.name, ortKernel: "int8_conv"),
      Row(kernel: "fp16_\(kind)", m: s.outputPlane, n: s.outChannels, k: s.depth, threads: threads, seconds: hs,
        layer: layer.name),
    ]
  }

  /// Whole-model sums per kernel family: time adds up, GOP/s is the total work over the total time.
  func totals(_ layerRows: [Row], threads: Int) -> [Row] {
    var out: [Row] = []
    for kernel in ["fp32_conv", "fp32_depthwise", "int8_conv", "int8_depthwise", "fp16_conv", "fp16_depthwise"] {
      let rs = layerRows.filter { $0.kernel == kernel }
      guard !rs.isEmpty else { continue }
      let macs = rs.reduce(0) { $0 + $1.m * $1.n * $1.k }
      out.append(Row(kernel: kernel + "_total", m: 1, n: 1, k: macs, threads: threads,
        seconds: rs.reduce(0) { $0 + $1.seconds }, layer: "all \(rs.count) layers",
        ortKernel: kernel.hasPrefix("int8") ? "int8_conv" : kernel.hasPrefix("fp32") ? "fp32_conv" : nil))
    }
    return out
  }

  // MARK: ONNX Runtime

  func attachORT(_ rows: inout [Row], layers: [ConvLayerShape], note: (String) -> Void) {
    var cases: [[String: Any]] = []
    for (m, n, k) in Self.gemmShapes {
      cases.append(["kernel": "int8_gemm", "m": m, "n": n, "k": k])
      cases.append(["kernel": "fp32_gemm", "m": m, "n": n, "k": k])
    }
    for (m, n, k) in Self.matmulShapes { cases.append(["kernel": "fp32_gemm", "m": m, "n": n, "k": k]) }
    for l in layers {
      let w = l.shape.window
      for kernel in ["int8_conv", "fp32_conv"] {
      cases.append([
        "kernel": kernel, "name": l.name, "cin": l.shape.inChannels, "cout": l.shape.outChannels,
        "group": l.shape.groups, "h": w.inH, "w": w.inW, "kh": w.kH, "kw": w.kW,
        "sh": w.strideH, "sw": w.strideW, "dh": w.dilH, "dw": w.dilW,
        "pt": w.padTop, "pl": w.padLeft, "pb": w.padBottom, "pr": w.padRight,
      ])
      }
    }
    guard let results = ORTScripts.kernels(cases: cases, threads: threadCounts, minSeconds: minSeconds, note: note) else { return }
    func find(_ kernel: String, _ r: Row) -> [String: Any]? {
      results.first {
        $0["kernel"] as? String == kernel && $0["threads"] as? Int == r.threads
          && (r.layer == nil ? ($0["m"] as? Int == r.m && $0["n"] as? Int == r.n && $0["k"] as? Int == r.k)
            : $0["name"] as? String == r.layer)
      }
    }
    for i in rows.indices {
      guard let kernel = rows[i].ortKernel else { continue }
      if rows[i].kernel.hasSuffix("_total") {
        // ONNX Runtime's time over the same layers.
        let layerNames = Set(rows.filter { $0.threads == rows[i].threads && $0.kernel == rows[i].kernel.replacingOccurrences(of: "_total", with: "") }.compactMap(\.layer))
        let matched = results.filter { $0["kernel"] as? String == kernel && $0["threads"] as? Int == rows[i].threads && layerNames.contains($0["name"] as? String ?? "") }
        let ms = matched.compactMap { $0["ms"] as? Double }.reduce(0, +)
        if matched.count == layerNames.count && ms > 0 { rows[i].ortGops = 2 * Double(rows[i].k) / (ms / 1e3) / 1e9 }
        continue
      }
      rows[i].ortGops = find(kernel, rows[i])?["gops"] as? Double
    }
  }
}
