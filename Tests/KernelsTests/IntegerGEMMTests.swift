import Kernels
import TensorCore
import XCTest

/// The integer GEMM/GEMV: the scalar twin equals the documented formula evaluated here from the
/// unpacked values, and every vector instruction set equals the scalar twin, bit for bit.
final class IntegerGEMMTests: XCTestCase {
  struct Case: CustomStringConvertible {
    var rows: Int, columns: Int, depth: Int, bits: Int, group: Int?
    var description: String { "n=\(rows) m=\(columns) k=\(depth) int\(bits) group=\(group.map(String.init) ?? "row")" }
  }

  /// Shapes with 1, odd sizes, k off the 8/16 blocks, partial panels (rows % 8, columns % 32)
  /// and columns ≤ 4 (the GEMV path).
  let cases: [Case] = [
    Case(rows: 1, columns: 1, depth: 1, bits: 8, group: nil),
    Case(rows: 3, columns: 2, depth: 7, bits: 8, group: nil),
    Case(rows: 8, columns: 32, depth: 8, bits: 8, group: nil),
    Case(rows: 9, columns: 33, depth: 17, bits: 8, group: nil),
    Case(rows: 37, columns: 45, depth: 77, bits: 8, group: nil),
    Case(rows: 13, columns: 4, depth: 129, bits: 8, group: nil),
    Case(rows: 1, columns: 1, depth: 1, bits: 4, group: nil),
    Case(rows: 11, columns: 3, depth: 15, bits: 4, group: nil),
    Case(rows: 9, columns: 33, depth: 17, bits: 4, group: nil),
    Case(rows: 37, columns: 45, depth: 77, bits: 4, group: 32),
    Case(rows: 17, columns: 4, depth: 200, bits: 4, group: 64),
    Case(rows: 16, columns: 40, depth: 100, bits: 8, group: 32),
  ]

  let outputs: [KernelOutput] = [.float32, .uint8(scale: 0.05, zero: 3), .int8(scale: 0.07, zero: -2), .float16, .int32]

  func testScalarTwinEqualsTheFormulaAndEveryISAEqualsTheTwin() throws {
    var rng = SeededGenerator(seed: 7)
    for c in cases {
      let lo: Int8 = c.bits == 4 ? -8 : -127, hi: Int8 = c.bits == 4 ? 7 : 127
      let values = (0..<(c.rows * c.depth)).map { _ in Int8.random(in: lo...hi, using: &rng) }
      let groups = c.group.map { (c.depth + $0 - 1) / $0 } ?? 1
      let scales = (0..<(c.rows * groups)).map { _ in Float.random(in: 0.001...0.02, using: &rng) }
      let w = try QuantizedWeights(bits: c.bits, rows: c.rows, depth: c.depth, values: values, scales: scales, group: c.group)
      let x = (0..<(c.columns * c.depth)).map { _ in UInt8.random(in: 0...255, using: &rng) }
      let zero = Int32.random(in: 0...255, using: &rng), scale: Float = 0.03
      let bias = (0..<c.rows).map { _ in Float.random(in: -1...1, using: &rng) }
      for out in outputs {
        if out == .int32 && groups > 1 { continue }
        for clip in [nil, Float(0)...Float(6)] as [ClosedRange<Float>?] {
          let epilogue = KernelEpilogue(bias: out == .int32 ? nil : bias, clip: clip, output: out)
          let expected = formula(c, values, scales, x, zero, scale, epilogue)
          for layout in ["rows", "columns"] {
            let reference = try run(w, x, c, zero, scale, epilogue, layout, .scalar)
            XCTAssertNil(firstDifference(reference, expected, elementBytes: out.elementBytes),
              "\(c) \(out) clip \(String(describing: clip)) \(layout): scalar twin differs from the formula at element \(firstDifference(reference, expected, elementBytes: out.elementBytes) ?? -1)")
            for isa in vectorISAs {
              let fast = try run(w, x, c, zero, scale, epilogue, layout, isa)
              XCTAssertNil(firstDifference(fast, reference, elementBytes: out.elementBytes),
                "\(c) \(out) \(layout): \(isa) differs from the scalar twin at element \(firstDifference(fast, reference, elementBytes: out.elementBytes) ?? -1)")
            }
          }
        }
      }
    }
  }

  func testWeightsOutOfRangeAreRefusedWithTheirPosition() {
    XCTAssertThrowsError(try QuantizedWeights(bits: 4, rows: 1, depth: 2, values: [3, 9], scales: [1])) {
      XCTAssertTrue("\($0)".contains("row 0, k 1"), "\($0)")
    }
    XCTAssertThrowsError(try QuantizedWeights(bits: 8, rows: 1, depth: 2, values: [3, 9], scales: [0]))
    XCTAssertThrowsError(try QuantizedWeights(bits: 4, rows: 1, depth: 40, values: .init(repeating: 0, count: 40), scales: [1], group: 24))
  }

  /// Runs the kernel with the activations laid out as tokens (rows; output written transposed,
  /// as a MatMul does) or as an im2col matrix (columns; output row-major, as NCHW convs do).
  func run(
    _ w: QuantizedWeights, _ x: [UInt8], _ c: Case, _ zero: Int32, _ scale: Float, _ epilogue: KernelEpilogue,
    _ layout: String, _ isa: KernelISA
  ) throws -> [UInt8] {
    let count = c.rows * c.columns, bytes = epilogue.output.elementBytes
    if layout == "rows" {
      let transposed = try output(count: count, bytes: bytes) { y in
        try x.withUnsafeBufferPointer { p in
          let a = QuantizedActivations(codes: p.baseAddress!, layout: .rows(count: c.columns, stride: c.depth), scale: scale, zero: zero)
          try QuantizedGEMM.run(w, a, epilogue: epilogue, output: y, rowStride: 1, columnStride: c.rows, isa: isa)
        }
      }
      // Back to y[n][m] for comparison.
      var y = [UInt8](repeating: 0, count: transposed.count)
      for n in 0..<c.rows {
        for m in 0..<c.columns {
          for b in 0..<bytes { y[(n * c.columns + m) * bytes + b] = transposed[(m * c.rows + n) * bytes + b] }
        }
      }
      return y
    }
    var columns = [UInt8](repeating: 0, count: x.count)
    for m in 0..<c.columns { for k in 0..<c.depth { columns[k * c.columns + m] = x[m * c.depth + k] } }
    return try output(count: count, bytes: bytes) { y in
      try columns.withUnsafeBufferPointer { p in
        let a = QuantizedActivations(codes: p.baseAddress!, layout: .columns(count: c.columns, stride: c.columns), scale: scale, zero: zero)
        try QuantizedGEMM.run(w, a, epilogue: epilogue, output: y, rowStride: c.columns, columnStride: 1, isa: isa)
      }
    }
  }

  /// The header's formula, step by step: exact integer sums per group, then
  ///     f = s_w[0]·acc_0;  f = fma(s_w[g], acc_g, f) …;  y = fma(f, s_a, bias);  clip;  convert.
  func formula(
    _ c: Case, _ w: [Int8], _ scales: [Float], _ x: [UInt8], _ zero: Int32, _ scale: Float, _ e: KernelEpilogue
  ) -> [UInt8] {
    let group = c.group ?? c.depth, groups = (c.depth + group - 1) / group
    var out: [UInt8] = []
    for n in 0..<c.rows {
      for m in 0..<c.columns {
        var f: Float = 0, raw: Int32 = 0
        for g in 0..<groups {
          var acc: Int32 = 0
          for k in (g * group)..<Swift.min((g + 1) * group, c.depth) {
            acc += (Int32(x[m * c.depth + k]) - zero) * Int32(w[n * c.depth + k])
          }
          raw = acc
          let s = scales[n * groups + g]
          f = g == 0 ? s * Float(acc) : f.addingProduct(s, Float(acc))
        }
        var y = (e.bias?[n] ?? 0).addingProduct(f, scale)
        if let clip = e.clip {
          y = y > clip.lowerBound ? y : clip.lowerBound
          y = y < clip.upperBound ? y : clip.upperBound
        }
        switch e.output {
        case .float32: withUnsafeBytes(of: y) { out += $0 }
        case .float16: withUnsafeBytes(of: Float16(y)) { out += $0 }
        case .int32: withUnsafeBytes(of: raw) { out += $0 }
        case .uint8(let s, let z), .int8(let s, let z):
          let (qmin, qmax): (Int32, Int32) = if case .uint8 = e.output { (0, 255) } else { (-128, 127) }
          var t = y * (1 / s)
          t = t > Float(qmin - z) ? t : Float(qmin - z)
          t = t < Float(qmax - z) ? t : Float(qmax - z)
          out.append(UInt8(truncatingIfNeeded: Int32(t.rounded(.toNearestOrEven)) + z))
        }
      }
    }
    return out
  }
}

/// Signed int8 activations go in as uint8 codes q + 128 with zero z + 128: same results.
final class SignedActivationTests: XCTestCase {
  func testInt8ActivationsGiveTheSameSumsAsTheirUnsignedCodes() throws {
    var rng = SeededGenerator(seed: 9)
    let (n, m, k) = (9, 37, 21)
    let values = (0..<(n * k)).map { _ in Int8.random(in: -127...127, using: &rng) }
    let w = try QuantizedWeights(bits: 8, rows: n, depth: k, values: values, scales: [Float](repeating: 1, count: n))
    let signed = (0..<(m * k)).map { _ in Int8.random(in: -128...127, using: &rng) }
    let zero: Int32 = -3
    var codes = [UInt8](repeating: 0, count: signed.count)
    let unsignedZero = signed.withUnsafeBufferPointer { s in
      codes.withUnsafeMutableBufferPointer { ActivationCodes.unsignedCodes(s.baseAddress!, count: s.count, zero: zero, into: $0.baseAddress!) }
    }
    XCTAssertEqual(unsignedZero, 125)
    let y = try output(count: n * m, bytes: 4) { y in
      try codes.withUnsafeBufferPointer { p in
        let x = QuantizedActivations(codes: p.baseAddress!, layout: .rows(count: m, stride: k), scale: 1, zero: unsignedZero)
        try QuantizedGEMM.run(w, x, epilogue: KernelEpilogue(output: .int32), output: y, rowStride: m, columnStride: 1)
      }
    }
    let got = y.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }
    for r in 0..<n {
      for c in 0..<m {
        let expected = (0..<k).reduce(Int32(0)) { $0 + (Int32(signed[c * k + $1]) - zero) * Int32(values[r * k + $1]) }
        XCTAssertEqual(got[r * m + c], expected, "row \(r) column \(c)")
      }
    }
  }
}
