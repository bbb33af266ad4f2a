import CKernels
import Kernels
import TensorCore
import XCTest

/// Quantized and half convolutions (general, grouped, strided, dilated, depthwise, 1-D) against
/// the convolution written out from its definition.
final class ConvolutionTests: XCTestCase {
  struct Case: CustomStringConvertible {
    var cin: Int, cout: Int, groups: Int, h: Int, w: Int, kh: Int, kw: Int, stride: Int, pad: Int, dil: Int
    var description: String { "\(cin)→\(cout) g\(groups) \(h)×\(w) k\(kh)×\(kw) s\(stride) p\(pad) d\(dil)" }
    var outH: Int { (h + 2 * (kh > 1 ? pad : 0) - dil * (kh - 1) - 1) / stride + 1 }
    var outW: Int { (w + 2 * pad - dil * (kw - 1) - 1) / stride + 1 }
    func shape() throws -> ConvShape {
      let padH = kh > 1 ? pad : 0
      let window = ConvWindow(inH: h, inW: w, kH: kh, kW: kw, strideH: stride, strideW: stride, dilH: dil, dilW: dil,
        padTop: padH, padLeft: pad, padBottom: padH, padRight: pad, outH: outH, outW: outW)
      return try ConvShape(inChannels: cin, outChannels: cout, groups: groups, window: window)
    }
  }

  let cases = [
    Case(cin: 5, cout: 7, groups: 1, h: 6, w: 9, kh: 1, kw: 1, stride: 1, pad: 0, dil: 1),
    Case(cin: 3, cout: 10, groups: 1, h: 7, w: 11, kh: 3, kw: 3, stride: 1, pad: 1, dil: 1),
    Case(cin: 4, cout: 6, groups: 2, h: 9, w: 8, kh: 3, kw: 3, stride: 2, pad: 1, dil: 1),
    Case(cin: 6, cout: 6, groups: 6, h: 10, w: 37, kh: 3, kw: 3, stride: 1, pad: 1, dil: 1),
    Case(cin: 4, cout: 4, groups: 4, h: 11, w: 20, kh: 5, kw: 5, stride: 2, pad: 2, dil: 1),
    Case(cin: 3, cout: 3, groups: 3, h: 9, w: 9, kh: 3, kw: 3, stride: 1, pad: 2, dil: 2),
    Case(cin: 4, cout: 5, groups: 1, h: 1, w: 30, kh: 1, kw: 3, stride: 1, pad: 1, dil: 1),
    // At most four output columns (an SE block's 1×1 plane): the GEMV kernels.
    Case(cin: 37, cout: 11, groups: 1, h: 1, w: 1, kh: 1, kw: 1, stride: 1, pad: 0, dil: 1),
    Case(cin: 19, cout: 9, groups: 1, h: 2, w: 2, kh: 1, kw: 1, stride: 1, pad: 0, dil: 1),
    Case(cin: 6, cout: 10, groups: 2, h: 1, w: 3, kh: 1, kw: 3, stride: 1, pad: 1, dil: 1),
  ]

  /// Σ (x − z)·w over the window, padding contributing nothing: exact integers.
  func integerSums(_ c: Case, _ x: [UInt8], _ zero: Int32, _ w: [Int8]) -> [Int32] {
    let s = try! c.shape(), cinG = c.cin / c.groups, coutG = c.cout / c.groups
    var out: [Int32] = []
    for o in 0..<c.cout {
      let g = o / coutG
      for oh in 0..<c.outH {
        for ow in 0..<c.outW {
          var acc: Int32 = 0
          for ci in 0..<cinG {
            for i in 0..<c.kh {
              for j in 0..<c.kw {
                let ih = oh * c.stride - s.window.padTop + i * c.dil, iw = ow * c.stride - c.pad + j * c.dil
                guard ih >= 0, ih < c.h, iw >= 0, iw < c.w else { continue }
                let xv = Int32(x[((g * cinG + ci) * c.h + ih) * c.w + iw]) - zero
                acc += xv * Int32(w[((o * cinG + ci) * c.kh + i) * c.kw + j])
              }
            }
          }
          out.append(acc)
        }
      }
    }
    return out
  }

  func testQuantizedConvolutionEqualsTheDefinitionOnEveryISA() throws {
    var rng = SeededGenerator(seed: 21)
    for c in cases {
      for bits in [8, 4] {
        let lo: Int8 = bits == 4 ? -8 : -127, hi: Int8 = bits == 4 ? 7 : 127
        let w = (0..<(c.cout * c.cin / c.groups * c.kh * c.kw)).map { _ in Int8.random(in: lo...hi, using: &rng) }
        let x = (0..<(c.cin * c.h * c.w)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let scales = (0..<c.cout).map { _ in Float.random(in: 0.001...0.01, using: &rng) }
        let bias = (0..<c.cout).map { _ in Float.random(in: -1...1, using: &rng) }
        let zero: Int32 = 37, sa: Float = 0.02
        let conv = try QuantizedConvolution(shape: c.shape(), bits: bits, values: w, scales: scales)
        let sums = integerSums(c, x, zero, w)
        let plane = c.outH * c.outW
        let expected: [Float] = sums.enumerated().map { i, acc in
          let o = i / plane
          let y = bias[o].addingProduct(scales[o] * Float(acc), sa)
          return y > 0 ? y : 0
        }
        for isa in KernelISA.available {
          let y = try output(count: c.cout * plane, bytes: 4) { y in
            try x.withUnsafeBufferPointer { p in
              try conv.run(codes: p.baseAddress!, scale: sa, zero: zero, epilogue: KernelEpilogue(bias: bias, clip: 0...Float.infinity), output: y, isa: isa)
            }
          }
          let got = y.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
          XCTAssertEqual(got, expected, "\(c) int\(bits) on \(isa) (depthwise path: \(conv.isDepthwise))")
        }
      }
    }
  }

  /// float32 accumulation of at most 75 terms: |error| ≤ 75 · 2⁻²⁴ · Σ|w·x| < 5e-6 · Σ|w·x|.
  let halfAccumulationBound: Float = 5e-6

  func testHalfConvolutionMatchesTheDefinitionOnEveryISA() throws {
    var rng = SeededGenerator(seed: 22)
    for c in cases {
      let w = (0..<(c.cout * c.cin / c.groups * c.kh * c.kw)).map { _ in Float.random(in: -1...1, using: &rng) }
      let x = (0..<(c.cin * c.h * c.w)).map { _ in Float.random(in: -2...2, using: &rng) }
      let bias = (0..<c.cout).map { _ in Float.random(in: -1...1, using: &rng) }
      let conv = try HalfConvolution(shape: c.shape(), values: w)
      let s = try c.shape(), cinG = c.cin / c.groups, coutG = c.cout / c.groups, plane = c.outH * c.outW
      let half = { (v: Float) in Float(Float16(v)) }
      for isa in KernelISA.available {
        let y = try output(count: c.cout * plane, bytes: 4) { y in
          try x.withUnsafeBufferPointer { p in
            try conv.run(input: p.baseAddress!, epilogue: KernelEpilogue(bias: bias), output: y, isa: isa)
          }
        }
        let got = y.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        for o in 0..<c.cout {
          for p in 0..<plane {
            let oh = p / c.outW, ow = p % c.outW
            var exact = Double(bias[o]), magnitude: Double = 0
            for ci in 0..<cinG {
              for i in 0..<c.kh {
                for j in 0..<c.kw {
                  let ih = oh * c.stride - s.window.padTop + i * c.dil, iw = ow * c.stride - c.pad + j * c.dil
                  guard ih >= 0, ih < c.h, iw >= 0, iw < c.w else { continue }
                  let term = Double(half(w[((o * cinG + ci) * c.kh + i) * c.kw + j])) * Double(half(x[(((o / coutG) * cinG + ci) * c.h + ih) * c.w + iw]))
                  exact += term
                  magnitude += abs(term)
                }
              }
            }
            let bound = Double(halfAccumulationBound) * (magnitude + abs(Double(bias[o])))
            XCTAssertLessThanOrEqual(abs(Double(got[o * plane + p]) - exact), bound, "\(c) out \(o) pixel \(p) on \(isa)")
          }
        }
      }
    }
  }
}
