import Kernels
import TensorCore
import XCTest

/// Half-precision GEMM and the element conversions against their definitions, on every ISA.
final class HalfAndConversionTests: XCTestCase {
  func testHalfGEMMIsAnFMAChainInKOrderOnEveryISA() throws {
    var rng = SeededGenerator(seed: 11)
    for (n, m, k) in [(1, 1, 1), (3, 2, 7), (8, 32, 8), (9, 33, 17), (37, 45, 77), (37, 4, 78), (41, 3, 9)] {
      let w = (0..<(n * k)).map { _ in Float16(Float.random(in: -1...1, using: &rng)) }
      let x = (0..<(m * k)).map { _ in Float16(Float.random(in: -2...2, using: &rng)) }
      let bias = (0..<n).map { _ in Float.random(in: -1...1, using: &rng) }
      let weights = try HalfWeights(rows: n, depth: k, values: w.map(\.bitPattern))
      var expected: [Float] = []
      for r in 0..<n {
        for c in 0..<m {
          // The GEMV (m ≤ 4 tokens) keeps even and odd k in two chains; the GEMM one chain.
          var even: Float = 0, odd: Float = 0
          for i in 0..<k {
            if m <= QuantizedGEMM.gemvColumns && i % 2 == 1 {
              odd = odd.addingProduct(Float(w[r * k + i]), Float(x[c * k + i]))
            } else {
              even = even.addingProduct(Float(w[r * k + i]), Float(x[c * k + i]))
            }
          }
          expected.append(Swift.min(Swift.max(even + odd + bias[r], -0.5), 0.5))
        }
      }
      let epilogue = KernelEpilogue(bias: bias, clip: -0.5...0.5, output: .float32)
      for isa in KernelISA.available {
        let y = try output(count: n * m, bytes: 4) { y in
          try x.map(\.bitPattern).withUnsafeBufferPointer { p in
            try HalfGEMM.run(weights, p.baseAddress!, layout: .rows(count: m, stride: k), epilogue: epilogue, output: y,
              rowStride: m, columnStride: 1, isa: isa)
          }
        }
        let got = y.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        XCTAssertEqual(got, expected, "n=\(n) m=\(m) k=\(k) on \(isa)")
      }
    }
  }

  func testQuantizeIsQuantizeLinearAndRoundTripsWithinHalfAStep() {
    var rng = SeededGenerator(seed: 3)
    let scale: Float = 0.05, zero: Int32 = 100
    // Ties (k + 0.5 steps), values beyond the range on both sides, and NaN.
    var x = (0..<1001).map { _ in Float.random(in: -8...10, using: &rng) }
    x += [2.5 * scale, 3.5 * scale, -0.5 * scale, 1e9, -1e9, .nan]
    for isa in KernelISA.available {
      var q = [UInt8](repeating: 0, count: x.count)
      x.withUnsafeBufferPointer { p in
        q.withUnsafeMutableBufferPointer { ActivationCodes.quantize(p.baseAddress!, count: x.count, scale: scale, zero: zero, into: $0.baseAddress!, isa: isa) }
      }
      for (i, v) in x.enumerated() {
        let expected: Int32 = v.isNaN ? 0 : Swift.min(Swift.max(Int32(exactly: (v / scale).rounded(.toNearestOrEven)).map { $0 + zero } ?? (v > 0 ? 255 : 0), 0), 255)
        XCTAssertEqual(Int32(q[i]), expected, "x=\(v) on \(isa)")
        let representable = v >= Float(0 - zero) * scale && v <= Float(255 - zero) * scale
        if representable {
          XCTAssertLessThanOrEqual(abs((Float(Int32(q[i]) - zero)) * scale - v), scale / 2 * (1 + 1e-6), "round trip of \(v)")
        }
      }
    }
  }

  func testHalfConversionMatchesSwiftFloat16BitForBit() {
    var rng = SeededGenerator(seed: 5)
    var x = (0..<999).map { _ in Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &rng)) }
    x += [0, -0, 65504, 65520, 1e-8, 6e-8, -.infinity, .infinity]
    let expected = x.map { Float16($0).bitPattern }
    for isa in KernelISA.available {
      var h = [UInt16](repeating: 0, count: x.count)
      x.withUnsafeBufferPointer { p in h.withUnsafeMutableBufferPointer { ActivationCodes.toHalf(p.baseAddress!, count: x.count, into: $0.baseAddress!, isa: isa) } }
      for i in x.indices where !x[i].isNaN {
        XCTAssertEqual(h[i], expected[i], "\(x[i]) on \(isa)")
      }
      var back = [Float](repeating: 0, count: x.count)
      h.withUnsafeBufferPointer { p in back.withUnsafeMutableBufferPointer { ActivationCodes.fromHalf(p.baseAddress!, count: x.count, into: $0.baseAddress!, isa: isa) } }
      for i in x.indices where !x[i].isNaN {
        XCTAssertEqual(back[i].bitPattern, Float(Float16(bitPattern: h[i])).bitPattern)
      }
    }
  }

  /// The range scan gives the exact extremes (with 0) on every ISA, at every length around the
  /// 16-lane blocks, skipping NaN.
  func testRangeIsTheExactMinimumAndMaximumOnEveryISA() {
    var rng = SeededGenerator(seed: 8)
    for count in [0, 1, 15, 16, 17, 33, 1000] {
      var x = (0..<count).map { _ in Float.random(in: -3...5, using: &rng) }
      if count > 3 { x[count / 2] = .nan }
      let finite = x.filter { !$0.isNaN }
      let want = (Swift.min(finite.min() ?? 0, 0), Swift.max(finite.max() ?? 0, 0))
      for isa in KernelISA.available {
        let r = x.withUnsafeBufferPointer { ActivationCodes.range($0.baseAddress ?? UnsafePointer(bitPattern: 64)!, count: count, isa: isa) }
        XCTAssertEqual(r.lo, want.0, "count \(count) on \(isa)")
        XCTAssertEqual(r.hi, want.1, "count \(count) on \(isa)")
      }
    }
    let positive: [Float] = [2, 3, 4]
    XCTAssertEqual(positive.withUnsafeBufferPointer { ActivationCodes.range($0.baseAddress!, count: 3).lo }, 0)
  }
}
