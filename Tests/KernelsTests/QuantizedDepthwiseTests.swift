import Kernels
import TensorCore
import XCTest

/// The quantized depthwise kernel (pair rows on x86, the float path elsewhere) against the
/// convolution written out from its definition, bit for bit, on every instruction set: strides
/// and dilations per axis, asymmetric pads, rows around the 8/16-lane vectors and 4-vector blocks.
final class QuantizedDepthwiseTests: XCTestCase {
  struct Geometry: CustomStringConvertible {
    var h: Int, w: Int, kh: Int, kw: Int, sh: Int, sw: Int, dh: Int, dw: Int
    var top: Int, left: Int, bottom: Int, right: Int
    var outH: Int { (h + top + bottom - dh * (kh - 1) - 1) / sh + 1 }
    var outW: Int { (w + left + right - dw * (kw - 1) - 1) / sw + 1 }
    var description: String { "\(h)×\(w) k\(kh)×\(kw) s\(sh),\(sw) d\(dh),\(dw) pads \(top),\(left),\(bottom),\(right)" }
    var window: ConvWindow {
      ConvWindow(inH: h, inW: w, kH: kh, kW: kw, strideH: sh, strideW: sw, dilH: dh, dilW: dw, padTop: top,
        padLeft: left, padBottom: bottom, padRight: right, outH: outH, outW: outW)
    }
  }

  let geometries = [
    Geometry(h: 6, w: 96, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, top: 1, left: 1, bottom: 1, right: 1),
    Geometry(h: 7, w: 65, kh: 5, kw: 5, sh: 1, sw: 1, dh: 1, dw: 1, top: 2, left: 2, bottom: 2, right: 2),
    Geometry(h: 9, w: 33, kh: 3, kw: 3, sh: 2, sw: 2, dh: 1, dw: 1, top: 1, left: 1, bottom: 1, right: 1),
    Geometry(h: 12, w: 130, kh: 3, kw: 3, sh: 2, sw: 1, dh: 1, dw: 1, top: 1, left: 1, bottom: 1, right: 1),
    Geometry(h: 5, w: 17, kh: 3, kw: 3, sh: 1, sw: 2, dh: 1, dw: 1, top: 0, left: 1, bottom: 2, right: 0),
    Geometry(h: 8, w: 40, kh: 3, kw: 3, sh: 1, sw: 1, dh: 2, dw: 3, top: 2, left: 3, bottom: 2, right: 3),
    Geometry(h: 4, w: 15, kh: 1, kw: 7, sh: 1, sw: 1, dh: 1, dw: 1, top: 0, left: 3, bottom: 0, right: 3),
    Geometry(h: 10, w: 31, kh: 4, kw: 2, sh: 1, sw: 2, dh: 1, dw: 1, top: 1, left: 0, bottom: 2, right: 1),
    Geometry(h: 3, w: 1, kh: 3, kw: 1, sh: 1, sw: 1, dh: 1, dw: 1, top: 1, left: 0, bottom: 1, right: 0),
    Geometry(h: 9, w: 20, kh: 3, kw: 3, sh: 3, sw: 3, dh: 1, dw: 1, top: 1, left: 1, bottom: 1, right: 1),
    Geometry(h: 9, w: 29, kh: 3, kw: 3, sh: 2, sw: 2, dh: 2, dw: 2, top: 2, left: 2, bottom: 2, right: 2),
  ]

  /// Σ (x − z)·w over one channel's window, padding contributing nothing.
  func sums(_ g: Geometry, _ x: ArraySlice<UInt8>, _ zero: Int32, _ w: ArraySlice<Int8>) -> [Int32] {
    var out: [Int32] = []
    for oh in 0..<g.outH {
      for ow in 0..<g.outW {
        var acc: Int32 = 0
        for i in 0..<g.kh {
          for j in 0..<g.kw {
            let ih = oh * g.sh - g.top + i * g.dh, iw = ow * g.sw - g.left + j * g.dw
            guard ih >= 0, ih < g.h, iw >= 0, iw < g.w else { continue }
            acc += (Int32(x[x.startIndex + ih * g.w + iw]) - zero) * Int32(w[w.startIndex + i * g.kw + j])
          }
        }
        out.append(acc)
      }
    }
    return out
  }

  func testDepthwiseEqualsTheDefinitionOnEveryISA() throws {
    var rng = SeededGenerator(seed: 31)
    let channels = 3
    for g in geometries {
      for bits in [8, 4] {
        let lo: Int8 = bits == 4 ? -8 : -128, hi: Int8 = bits == 4 ? 7 : 127
        let taps = g.kh * g.kw, plane = g.h * g.w, outPlane = g.outH * g.outW
        let w = (0..<(channels * taps)).map { _ in Int8.random(in: lo...hi, using: &rng) }
        // Extreme codes too: the widest products of the int16 pairs.
        let x = (0..<(channels * plane)).map { i in i % 7 == 0 ? UInt8(255) : UInt8.random(in: 0...255, using: &rng) }
        let scales = (0..<channels).map { _ in Float.random(in: 0.001...0.01, using: &rng) }
        let bias = (0..<channels).map { _ in Float.random(in: -1...1, using: &rng) }
        let zero: Int32 = 0, sa: Float = 0.02
        let shape = try ConvShape(inChannels: channels, outChannels: channels, groups: channels, window: g.window)
        let conv = try QuantizedConvolution(shape: shape, bits: bits, values: w, scales: scales)
        XCTAssertTrue(conv.isDepthwise)
        for za in [zero, 129] {
          var expected: [Float] = []
          for c in 0..<channels {
            let s = sums(g, x[(c * plane)..<((c + 1) * plane)], za, w[(c * taps)..<((c + 1) * taps)])
            expected += s.map { bias[c].addingProduct(scales[c] * Float($0), sa) }
          }
          for isa in KernelISA.available {
            let y = try output(count: channels * outPlane, bytes: 4) { y in
              try x.withUnsafeBufferPointer { p in
                try conv.run(codes: p.baseAddress!, scale: sa, zero: za, epilogue: KernelEpilogue(bias: bias), output: y, isa: isa)
              }
            }
            let got = y.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            XCTAssertEqual(got, expected, "\(g) int\(bits) zero \(za) on \(isa)")
          }
        }
      }
    }
  }
}
