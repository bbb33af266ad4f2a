import CKernels
import Kernels
import XCTest

/// The FP32 GEMM: every instruction set gives the scalar twin's bits (each sum one FMA chain in
/// k order), the twin meets the FMA-chain error bound against a float64 product, and the
/// convolution columns packed in place equal the im2col matrix written out from its definition.
final class FloatGEMMTests: XCTestCase {
  /// Deterministic values in [-1, 1] on a grid of 1/1024 (products and sums stay well scaled).
  func values(_ count: Int, seed: UInt64) -> [Float] {
    var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0..<count).map { _ in
      s ^= s << 13; s ^= s >> 7; s ^= s << 17
      return Float(Int(s % 2049) - 1024) / 1024
    }
  }

  /// |y − exact| ≤ γ_k · Σ_k |w·x| with γ_k = k·u/(1 − k·u), u = 2⁻²⁴: the bound of a chain of k
  /// fused multiply-adds (the named ULP bound of the issue), plus one rounding of the epilogue.
  func assertWithinChainBound(_ y: [Float], _ exact: [Double], _ magnitude: [Double], k: Int, _ what: String,
                              file: StaticString = #filePath, line: UInt = #line) {
    let u = pow(2.0, -24.0), gamma = Double(k + 1) * u / (1 - Double(k + 1) * u)
    for i in y.indices {
      let bound = gamma * magnitude[i] + 1e-30
      if abs(Double(y[i]) - exact[i]) > bound {
        XCTFail("\(what): element \(i) is \(y[i]), exact \(exact[i]), bound \(bound)", file: file, line: line)
        return
      }
    }
  }

  /// y[r][c] = Σ_k w[r][k]·x[k][c] through `FloatGEMM.run` with x given as a matrix.
  func product(n: Int, m: Int, k: Int, w: [Float], x: [Float], bias: [Float]? = nil, clip: ClosedRange<Float>? = nil,
               isa: KernelISA, threads: Int = 1) throws -> [Float] {
    let rows = try w.withUnsafeBufferPointer { try FloatRowPanels(rows: n, depth: k, values: $0) }
    var y = [Float](repeating: .nan, count: n * m)
    x.withUnsafeBufferPointer { px in
      y.withUnsafeMutableBufferPointer { py in
        (bias ?? []).withUnsafeBufferPointer { pb in
          FloatGEMM.run(rows: rows, columns: .matrix(px.baseAddress!, depthStride: m, columnStride: 1), count: m,
            output: py.baseAddress!, rowStride: m, columnStride: 1,
            epilogue: FloatEpilogue(rowBias: bias == nil ? nil : pb.baseAddress, clip: clip), isa: isa, threads: threads)
        }
      }
    }
    return y
  }

  func testEveryISAMatchesTheScalarTwinBitForBitAndTheTwinMeetsTheChainBound() throws {
    // Shapes with 1s, odd sizes, k off any block, rows and columns off the 8×32 tile, the GEMV (m ≤ 4),
    // and column chunks of unequal width split into equal-cost parts (24×700×300, 17×1000×600).
    let shapes = [(1, 1, 1), (1, 33, 7), (9, 1, 5), (8, 32, 64), (17, 70, 129), (5, 3, 300), (40, 4, 17), (3, 257, 31),
                  (64, 96, 1000), (24, 700, 300), (17, 1000, 600)]
    for (n, m, k) in shapes {
      let w = values(n * k, seed: UInt64(n * 131 + k)), x = values(k * m, seed: UInt64(m * 17 + k))
      let bias = values(n, seed: 7)
      let ref = try product(n: n, m: m, k: k, w: w, x: x, bias: bias, isa: .scalar)
      var exact = [Double](repeating: 0, count: n * m), magnitude = exact
      for r in 0..<n {
        for c in 0..<m {
          var s = Double(bias[r]), a = abs(Double(bias[r]))
          for kk in 0..<k {
            s += Double(w[r * k + kk]) * Double(x[kk * m + c])
            a += abs(Double(w[r * k + kk]) * Double(x[kk * m + c]))
          }
          exact[r * m + c] = s
          magnitude[r * m + c] = a
        }
      }
      assertWithinChainBound(ref, exact, magnitude, k: k, "scalar \(n)×\(m)×\(k)")
      for isa in vectorISAs {
        for threads in [1, 2] {
          let y = try product(n: n, m: m, k: k, w: w, x: x, bias: bias, isa: isa, threads: threads)
          XCTAssertEqual(y.map(\.bitPattern), ref.map(\.bitPattern), "\(isa) \(n)×\(m)×\(k) on \(threads) threads")
        }
      }
    }
  }

  /// A MatMul's activations read in place (row stride lda ≥ depth, nothing packed) against
  /// weights packed once as column panels give the bits of packing the rows, on every ISA and
  /// thread count: the few-rows split (whole column panels and partial ones), the chunked path
  /// (many rows), tail rows and the GEMV fallback (≤ 4 outputs).
  func testRowsReadInPlaceGiveThePackedRowsBits() throws {
    let shapes = [(32, 384, 64), (32, 100, 1536), (13, 40, 7), (1, 33, 5), (300, 70, 129), (9, 3, 20), (257, 64, 33)]
    for (n, m, k) in shapes {
      let lda = k + 3
      let a = values(n * lda, seed: UInt64(n * 7 + k)), b = values(k * m, seed: UInt64(m * 5 + k))
      let columns = b.withUnsafeBufferPointer { FloatColumnPanels(columns: m, depth: k, $0.baseAddress!, depthStride: m, columnStride: 1) }
      let bias = values(m, seed: 3)
      func run(inPlace: Bool, isa: KernelISA, threads: Int) -> [Float] {
        var y = [Float](repeating: .nan, count: n * m)
        a.withUnsafeBufferPointer { pa in
          y.withUnsafeMutableBufferPointer { py in
            bias.withUnsafeBufferPointer { pb in
              let e = FloatEpilogue(columnBias: pb.baseAddress, clip: -0.5...0.75)
              if inPlace {
                FloatGEMM.run(rowsInPlace: pa.baseAddress!, rows: n, depth: k, lda: lda, columns: .packed(columns), count: m,
                  output: py.baseAddress!, rowStride: m, columnStride: 1, epilogue: e, isa: isa, threads: threads)
              } else {
                let rows = FloatRowPanels(rows: n, depth: k, pa.baseAddress!, rowStride: lda, depthStride: 1)
                FloatGEMM.run(rows: rows, columns: .packed(columns), count: m, output: py.baseAddress!, rowStride: m,
                  columnStride: 1, epilogue: e, isa: isa, threads: threads)
              }
            }
          }
        }
        return y
      }
      let ref = run(inPlace: false, isa: .scalar, threads: 1)
      XCTAssertFalse(ref.contains { $0.isNaN }, "\(n)×\(m)×\(k): an output was not stored")
      for isa in [KernelISA.scalar] + vectorISAs {
        for threads in [1, 2] {
          XCTAssertEqual(run(inPlace: true, isa: isa, threads: threads).map(\.bitPattern), ref.map(\.bitPattern),
            "in place, \(isa) \(n)×\(m)×\(k) on \(threads) threads")
        }
      }
    }
  }

  func testTheGEMVGivesTheTileBits() throws {
    // The first 3 columns of a 40-column product equal the same 3 columns run alone (GEMV path).
    let n = 19, k = 77, m = 40
    let w = values(n * k, seed: 3), x = values(k * m, seed: 4)
    var narrow = [Float](repeating: 0, count: k * 3)
    for kk in 0..<k { for c in 0..<3 { narrow[kk * 3 + c] = x[kk * m + c] } }
    for isa in KernelISA.available {
      let wide = try product(n: n, m: m, k: k, w: w, x: x, isa: isa)
      let few = try product(n: n, m: 3, k: k, w: w, x: narrow, isa: isa)
      for r in 0..<n { for c in 0..<3 { XCTAssertEqual(few[r * 3 + c].bitPattern, wide[r * m + c].bitPattern, "\(isa)") } }
    }
  }

  func testTheEpilogueClipsAddsBiasAndKeepsNaN() throws {
    let w: [Float] = [1, 2, -3, 4], x: [Float] = [1, .nan, 1, 1]  // 2 rows × 2 depth, 2 depth × 2 columns
    for isa in KernelISA.available {
      let y = try product(n: 2, m: 2, k: 2, w: w, x: x, bias: [0.5, -10], clip: 0...6, isa: isa)
      XCTAssertEqual(y[0], 3.5, "\(isa)")  // 1·1 + 2·1 + 0.5
      XCTAssertTrue(y[1].isNaN, "\(isa): NaN passes the clip")
      XCTAssertEqual(y[2], 0, "\(isa)")  // −3 + 4 − 10 clipped to 0
    }
  }

  func testGeneralProductWithTransposesAlphaAndBetaAgreesWithOpenBLAS() {
    for (ta, tb, m, n, k) in [(false, false, 13, 41, 9), (true, false, 33, 5, 20), (false, true, 7, 70, 33),
                              (true, true, 2, 3, 65), (false, false, 100, 2, 8)] {
      let a = values(m * k, seed: UInt64(m)), b = values(k * n, seed: UInt64(n)), c0 = values(m * n, seed: 5)
      let lda = ta ? m : k, ldb = tb ? k : n
      var reference = c0
      a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in reference.withUnsafeMutableBufferPointer { pc in
        BLAS.sgemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.75, a: pa.baseAddress!, lda: lda, b: pb.baseAddress!,
          ldb: ldb, beta: 0.5, c: pc.baseAddress!, ldc: n)
      } } }
      var bits: [[UInt32]] = []
      for isa in KernelISA.available {
        var c = c0
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
          FloatGEMM.general(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.75, a: pa.baseAddress!, lda: lda,
            b: pb.baseAddress!, ldb: ldb, beta: 0.5, c: pc.baseAddress!, ldc: n, isa: isa, threads: 2)
        } } }
        for i in c.indices { XCTAssertEqual(c[i], reference[i], accuracy: 1e-5, "\(isa) ta=\(ta) tb=\(tb) \(m)×\(n)×\(k)") }
        bits.append(c.map(\.bitPattern))
      }
      XCTAssertTrue(bits.allSatisfy { $0 == bits[0] }, "every ISA gives the same bits, ta=\(ta) tb=\(tb)")
    }
  }

  func testConvolutionColumnsEqualTheIm2colMatrix() {
    // Strides, dilations, asymmetric pads, a 1-D window, a panel boundary inside an output row.
    let windows = [
      ConvWindow(inH: 7, inW: 11, kH: 3, kW: 3, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1),
      ConvWindow(inH: 9, inW: 8, kH: 3, kW: 3, strideH: 2, strideW: 2, padTop: 1, padLeft: 0, padBottom: 2, padRight: 1),
      ConvWindow(inH: 9, inW: 9, kH: 3, kW: 3, dilH: 2, dilW: 2, padTop: 2, padLeft: 2, padBottom: 2, padRight: 2),
      ConvWindow(inH: 1, inW: 50, kH: 1, kW: 5, strideW: 3, padLeft: 3, padRight: 1),
      ConvWindow(inH: 12, inW: 37, kH: 2, kW: 1, strideH: 1, strideW: 1, padTop: 0, padLeft: 0, padBottom: 1, padRight: 0),
      // width stride 2 over rows longer than a vector (the every-second-float copy and its tail)
      ConvWindow(inH: 5, inW: 75, kH: 3, kW: 3, strideH: 2, strideW: 2, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1),
      ConvWindow(inH: 4, inW: 66, kH: 3, kW: 3, strideH: 2, strideW: 2, padTop: 0, padLeft: 0, padBottom: 1, padRight: 1),
    ]
    for window in windows {
      let channels = 3, depth = channels * window.taps, m = window.outputPlane
      let x = values(channels * window.inputPlane, seed: UInt64(m))
      var packed = [Float](repeating: .nan, count: ck_s_packed_columns_floats(Int32(m), Int32(depth)))
      var g = window.c
      x.withUnsafeBufferPointer { ck_s_pack_conv_columns($0.baseAddress!, Int32(channels), &g, 0, Int32(m), &packed) }
      for kk in 0..<depth {
        let c = kk / window.taps, kh = kk / window.kW % window.kH, kw = kk % window.kW
        for col in 0..<((m + 31) / 32 * 32) {
          var expected: Float = 0
          if col < m {
            let ih = col / window.outW * window.strideH - window.padTop + kh * window.dilH
            let iw = col % window.outW * window.strideW - window.padLeft + kw * window.dilW
            if ih >= 0 && ih < window.inH && iw >= 0 && iw < window.inW { expected = x[(c * window.inH + ih) * window.inW + iw] }
          }
          let got = packed[(col / 32) * depth * 32 + kk * 32 + col % 32]
          XCTAssertEqual(got, expected, "\(window) depth \(kk) column \(col)")
          if got != expected { return }
        }
      }
    }
  }

  /// Every convolution path (in-place rows for width stride 1, packed chunks otherwise, the GEMV
  /// for tiny planes) gives the scalar twin's bits and meets the chain bound against the
  /// convolution written out from its definition.
  func testConvolutionPathsMatchTheScalarTwinAndTheDefinition() throws {
    let windows = [
      ConvWindow(inH: 7, inW: 40, kH: 3, kW: 3, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1),  // in place
      ConvWindow(inH: 5, inW: 70, kH: 3, kW: 5, dilH: 2, dilW: 1, padTop: 2, padLeft: 3, padBottom: 1, padRight: 0),
      ConvWindow(inH: 9, inW: 66, kH: 1, kW: 1),  // pointwise: one long row
      ConvWindow(inH: 9, inW: 8, kH: 3, kW: 3, strideH: 2, strideW: 2, padTop: 1, padLeft: 0, padBottom: 2, padRight: 1),
      ConvWindow(inH: 6, inW: 35, kH: 3, kW: 3, strideH: 2, strideW: 1, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1),
      ConvWindow(inH: 2, inW: 2, kH: 2, kW: 1),  // 1×2 output: the GEMV
    ]
    for (i, window) in windows.enumerated() {
      let channels = 13, outChannels = 11, depth = channels * window.taps, plane = window.outputPlane
      let x = values(channels * window.inputPlane, seed: UInt64(40 + i)), w = values(outChannels * depth, seed: UInt64(i))
      let rows = try w.withUnsafeBufferPointer { try FloatRowPanels(rows: outChannels, depth: depth, values: $0) }
      func run(_ isa: KernelISA, threads: Int) -> [Float] {
        var y = [Float](repeating: .nan, count: outChannels * plane)
        x.withUnsafeBufferPointer { px in
          y.withUnsafeMutableBufferPointer { py in
            FloatGEMM.convolution(rows: rows, input: px.baseAddress!, channels: channels, window: window,
              output: py.baseAddress!, isa: isa, threads: threads)
          }
        }
        return y
      }
      let ref = run(.scalar, threads: 1)
      var exact = [Double](repeating: 0, count: ref.count), magnitude = exact
      for o in 0..<outChannels {
        for col in 0..<plane {
          for kk in 0..<depth {
            let c = kk / window.taps, kh = kk / window.kW % window.kH, kw = kk % window.kW
            let ih = col / window.outW * window.strideH - window.padTop + kh * window.dilH
            let iw = col % window.outW * window.strideW - window.padLeft + kw * window.dilW
            guard ih >= 0 && ih < window.inH && iw >= 0 && iw < window.inW else { continue }
            let p = Double(w[o * depth + kk]) * Double(x[(c * window.inH + ih) * window.inW + iw])
            exact[o * plane + col] += p
            magnitude[o * plane + col] += abs(p)
          }
        }
      }
      assertWithinChainBound(ref, exact, magnitude, k: depth, "scalar \(window)")
      for isa in vectorISAs {
        for threads in [1, 2] {
          XCTAssertEqual(run(isa, threads: threads).map(\.bitPattern), ref.map(\.bitPattern), "\(isa) \(window)")
        }
      }
    }
  }
}
