import Foundation
import CKernels
import XCTest

@testable import Execution

/// The SIMD depthwise kernels give their scalar twin's bits (each output one FMA chain), the
/// twin meets the definition, and the C geometry layout.
final class DepthwiseKernelTests: XCTestCase {
  /// The scalar twin against the float64 definition: ≤ 25 taps of values in [-1, 1].
  static let definitionTolerance: Float = 1e-5

  func testLayoutMatchesSwift() {
    XCTAssertEqual(MemoryLayout<ck_conv_geometry>.size, 12 * MemoryLayout<Int32>.size)
  }

  func testSIMDTwinMatchesScalar() throws {
    let isas = [CK_ISA_AVX2, CK_ISA_AVX512_VNNI].filter { ck_cpu_supports($0) != 0 }
    guard !isas.isEmpty else { throw XCTSkip("this CPU has no AVX2") }
    let ref = ck_depthwise_f32_for(CK_ISA_SCALAR)!
    // (in_h, in_w, k, stride, dilation, pad): odd widths, widths around the 8-lane vector, 1×1 planes.
    let square: [(Int, Int, Int, Int, Int, Int)] = [(1, 1, 1, 1, 1, 0), (3, 7, 3, 1, 1, 1), (5, 9, 3, 2, 1, 1),
      (4, 15, 5, 1, 1, 2), (4, 17, 5, 2, 1, 2), (6, 33, 3, 1, 2, 2), (2, 96, 5, 1, 1, 2), (7, 8, 3, 3, 1, 0),
      (3, 130, 3, 1, 1, 1), (2, 1100, 3, 2, 1, 1), (5, 70, 3, 2, 2, 2),
      // width stride 2 from the input rows (both phases at once), four rows at a time on narrow planes
      (28, 28, 3, 2, 1, 1), (14, 14, 5, 2, 1, 2), (9, 112, 3, 2, 1, 0), (11, 57, 3, 2, 1, 1), (7, 7, 5, 1, 1, 2)]
    // (in_h, in_w, kh, kw, sh, sw, dh, dw, pad): row pairs (odd and even heights), strides and
    // dilations down the rows only, rows of 5 to 10 vectors (blocks of up to 8), 1-row kernels.
    let cases = square.map { ($0.0, $0.1, $0.2, $0.2, $0.3, $0.3, $0.4, $0.4, $0.5) } + [
      (12, 80, 5, 5, 1, 1, 1, 1, 2), (12, 80, 5, 5, 2, 1, 1, 1, 2), (9, 160, 3, 3, 2, 1, 1, 1, 1),
      (7, 129, 3, 3, 1, 1, 2, 1, 2), (6, 40, 1, 3, 1, 1, 1, 1, 1), (5, 257, 5, 5, 3, 1, 2, 1, 3), (2, 31, 3, 3, 1, 1, 1, 1, 0),
      (13, 30, 3, 3, 1, 2, 1, 1, 1), (10, 20, 3, 3, 1, 1, 2, 1, 2)]
    for (k, cfg) in cases.enumerated() {
      let (h, w, kh, kw, sh, sw, dh, dw, p) = cfg
      let oh = (h + 2 * p - (dh * (kh - 1) + 1)) / sh + 1, ow = (w + 2 * p - (dw * (kw - 1) + 1)) / sw + 1
      var g = ck_conv_geometry(in_h: Int32(h), in_w: Int32(w), k_h: Int32(kh), k_w: Int32(kw), stride_h: Int32(sh),
        stride_w: Int32(sw), dil_h: Int32(dh), dil_w: Int32(dw), pad_top: Int32(p), pad_left: Int32(p), out_h: Int32(oh), out_w: Int32(ow))
      let x = randomFloats(h * w, seed: UInt64(k)), wt = randomFloats(kh * kw, seed: UInt64(k + 50))
      var a = [Float](repeating: .nan, count: oh * ow)
      var scratch = [Float](repeating: .nan, count: Int(ck_depthwise_f32_scratch_floats(&g)))
      ref(x, wt, 0.25, &a, &g, &scratch)
      var exact = [Float](repeating: 0.25, count: oh * ow)
      for i in 0..<oh { for j in 0..<ow {
        var sum = 0.25
        for u in 0..<kh { for v in 0..<kw {
          let ih = i * sh - p + u * dh, iw = j * sw - p + v * dw
          if ih >= 0 && ih < h && iw >= 0 && iw < w { sum += Double(wt[u * kw + v]) * Double(x[ih * w + iw]) }
        } }
        exact[i * ow + j] = Float(sum)
      } }
      assertClose(a, exact, tolerance: Self.definitionTolerance, "scalar twin, case \(cfg)")
      for isa in isas {
        var b = [Float](repeating: .nan, count: oh * ow)
        ck_depthwise_f32_for(isa)!(x, wt, 0.25, &b, &g, &scratch)
        XCTAssertEqual(b.map(\.bitPattern), a.map(\.bitPattern), "ISA \(isa.rawValue), case \(cfg)")
      }
    }
  }
}

/// The softmax kernel's polynomial exp against libm, and its SIMD copy against the scalar twin.
final class SoftmaxKernelTests: XCTestCase {
  /// Softmax probabilities: the polynomial exp is within 2 ULP, so probabilities agree with libm
  /// to ~1e-6 relative; 1e-6 absolute covers rows of up to 6625 classes.
  static let probabilityTolerance: Float = 1e-6

  func libmSoftmax(_ row: [Float]) -> [Float] {
    let m = row.max()!
    let e = row.map { Foundation.exp(Double($0 - m)) }
    let s = e.reduce(0, +)
    return e.map { Float($0 / s) }
  }

  func testMatchesLibmAndTwin() {
    let isas = [CK_ISA_AVX2, CK_ISA_AVX512_VNNI].filter { ck_cpu_supports($0) != 0 }
    for (k, length) in [1, 3, 7, 8, 9, 15, 16, 17, 33, 64, 65, 6625].enumerated() {
      let row = randomFloats(length, seed: UInt64(k)).map { $0 * 30 }  // logits in [-30, 30)
      var ref = [Float](repeating: .nan, count: length)
      ck_softmax_f32_for(CK_ISA_SCALAR)(row, &ref, 1, length, 0)
      assertClose(ref, libmSoftmax(row), tolerance: Self.probabilityTolerance, "length \(length)")
      var logs = [Float](repeating: .nan, count: length)
      ck_softmax_f32_for(CK_ISA_SCALAR)(row, &logs, 1, length, 1)
      assertClose(logs.map { Float(Foundation.exp(Double($0))) }, ref, tolerance: 1e-5, "log, length \(length)")
      for isa in isas {
        for log: Int32 in [0, 1] {
          var fast = [Float](repeating: .nan, count: length), inPlace = row
          ck_softmax_f32_for(isa)(row, &fast, 1, length, log)
          inPlace.withUnsafeMutableBufferPointer { ck_softmax_f32_for(isa)($0.baseAddress!, $0.baseAddress!, 1, length, log) }
          if log == 0 {
            assertClose(fast, ref, tolerance: Self.probabilityTolerance, "ISA \(isa.rawValue) length \(length)")
          } else {
            assertClose(fast.map { Float(Foundation.exp(Double($0))) }, ref, tolerance: 1e-5, "log, ISA \(isa.rawValue)")
          }
          XCTAssertEqual(inPlace.map(\.bitPattern), fast.map(\.bitPattern), "in place, ISA \(isa.rawValue) length \(length)")
        }
      }
    }
  }
}
