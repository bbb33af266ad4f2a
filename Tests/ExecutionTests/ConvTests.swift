import XCTest

@testable import Execution
@testable import GraphIR
@testable import TensorCore

final class ConvTests: XCTestCase {
  struct Config {
    var n = 1, c = 4, h = 7, w = 9, oc = 6, kh = 3, kw = 3, group = 1
    var stride = (1, 1), dil = (1, 1), pads = (0, 0, 0, 0)
  }

  /// Direct 7-loop convolution, the independent reference.
  func naiveConv(_ x: [Float], _ w: [Float], _ b: [Float], _ c: Config) -> ([Float], [Int]) {
    let oh = (c.h + c.pads.0 + c.pads.2 - ((c.kh - 1) * c.dil.0 + 1)) / c.stride.0 + 1
    let ow = (c.w + c.pads.1 + c.pads.3 - ((c.kw - 1) * c.dil.1 + 1)) / c.stride.1 + 1
    let icg = c.c / c.group, ocg = c.oc / c.group
    var out = [Float](repeating: 0, count: c.n * c.oc * oh * ow)
    for n in 0..<c.n { for o in 0..<c.oc { for y in 0..<oh { for x0 in 0..<ow {
      var acc = b[o]
      let g = o / ocg
      for i in 0..<icg { for ky in 0..<c.kh { for kx in 0..<c.kw {
        let iy = y * c.stride.0 - c.pads.0 + ky * c.dil.0, ix = x0 * c.stride.1 - c.pads.1 + kx * c.dil.1
        if iy < 0 || iy >= c.h || ix < 0 || ix >= c.w { continue }
        acc += x[((n * c.c + g * icg + i) * c.h + iy) * c.w + ix] * w[((o * icg + i) * c.kh + ky) * c.kw + kx]
      } } }
      out[((n * c.oc + o) * oh + y) * ow + x0] = acc
    } } } }
    return (out, [c.n, c.oc, oh, ow])
  }

  func check(_ c: Config, file: StaticString = #filePath, line: UInt = #line) throws {
    let x = randomTensor([c.n, c.c, c.h, c.w], seed: 1), w = randomTensor([c.oc, c.c / c.group, c.kh, c.kw], seed: 2)
    let b = randomTensor([c.oc], seed: 3)
    let attrs: [String: Attribute] = [
      "group": .int(c.group), "strides": .ints([c.stride.0, c.stride.1]), "dilations": .ints([c.dil.0, c.dil.1]),
      "pads": .ints([c.pads.0, c.pads.1, c.pads.2, c.pads.3]),
    ]
    let got = try runOp("Conv", [x, w, b], attributes: attrs)[0]
    let (want, shape) = naiveConv(x.floats, w.floats, b.floats, c)
    XCTAssertEqual(got.shape, shape, "\(c)", file: file, line: line)
    assertClose(got.floats, want, "\(c)", file: file, line: line)
  }

  func testGeneralGroupedDepthwiseAndPointwise() throws {
    try check(Config())
    try check(Config(n: 2, stride: (2, 2), pads: (1, 1, 1, 1)))
    try check(Config(c: 4, oc: 8, group: 2, dil: (2, 1), pads: (2, 0, 1, 3)))
    try check(Config(n: 3, c: 6, h: 5, w: 11, oc: 6, kh: 5, kw: 5, group: 6, pads: (2, 2, 2, 2)))  // depthwise
    try check(Config(c: 4, oc: 8, group: 4, stride: (2, 1), pads: (1, 1, 1, 1)))  // depthwise, multiplier 2
    try check(Config(n: 2, c: 5, h: 1, w: 1, oc: 3, kh: 1, kw: 1))  // pointwise on 1×1
    try check(Config(c: 3, h: 4, w: 13, oc: 2, kh: 1, kw: 1, stride: (1, 2)))  // strided 1×1 goes through im2col
    try check(Config(c: 2, h: 3, w: 3, oc: 2, kh: 3, kw: 3, stride: (3, 3)))  // one output pixel
  }

  /// SAME_UPPER keeps ceil(in/stride) outputs and puts the odd pad at the end.
  func testAutoPadSameUpper() throws {
    let x = randomTensor([1, 2, 6, 7], seed: 4), w = randomTensor([3, 2, 3, 3], seed: 5)
    let got = try runOp("Conv", [x, w], attributes: ["auto_pad": .string("SAME_UPPER"), "strides": .ints([2, 2])])[0]
    XCTAssertEqual(got.shape, [1, 3, 3, 4])
    let c = Config(n: 1, c: 2, h: 6, w: 7, oc: 3, stride: (2, 2), pads: (0, 1, 1, 1))
    assertClose(got.floats, naiveConv(x.floats, w.floats, [0, 0, 0], c).0)
  }

  func testConv1D() throws {
    let x = randomTensor([2, 3, 10], seed: 6), w = randomTensor([4, 3, 3], seed: 7)
    let got = try runOp("Conv", [x, w], attributes: ["pads": .ints([1, 1])])[0]
    XCTAssertEqual(got.shape, [2, 4, 10])
    let c = Config(n: 2, c: 3, h: 1, w: 10, oc: 4, kh: 1, kw: 3, pads: (0, 1, 0, 1))
    assertClose(got.floats, naiveConv(x.floats, w.floats, [0, 0, 0, 0], c).0)
  }

  /// ConvTranspose equals scattering every input pixel through the kernel.
  func testConvTransposeMatchesScatter() throws {
    let n = 2, c = 4, h = 3, wd = 4, ocg = 3, group = 2, k = 3, s = 2, p = 1, outPad = 1
    let x = randomTensor([n, c, h, wd], seed: 8), w = randomTensor([c, ocg, k, k], seed: 9), b = randomTensor([ocg * group], seed: 10)
    let got = try runOp("ConvTranspose", [x, w, b], attributes: [
      "group": .int(group), "strides": .ints([s, s]), "pads": .ints([p, p, p, p]), "output_padding": .ints([outPad, outPad]),
    ])[0]
    let oh = s * (h - 1) + outPad + k - 2 * p, ow = s * (wd - 1) + outPad + k - 2 * p
    XCTAssertEqual(got.shape, [n, ocg * group, oh, ow])
    var want = [Float](repeating: 0, count: n * ocg * group * oh * ow)
    let oc = ocg * group, icg = c / group
    for b0 in 0..<n { for o in 0..<oc { for i in 0..<(oh * ow) { want[(b0 * oc + o) * oh * ow + i] = b.floats[o] } } }
    for b0 in 0..<n { for ci in 0..<c { for y in 0..<h { for x0 in 0..<wd { for o in 0..<ocg { for ky in 0..<k { for kx in 0..<k {
      let g = ci / icg, oy = y * s - p + ky, ox = x0 * s - p + kx
      if oy < 0 || oy >= oh || ox < 0 || ox >= ow { continue }
      want[((b0 * oc + g * ocg + o) * oh + oy) * ow + ox] += x.floats[((b0 * c + ci) * h + y) * wd + x0] * w.floats[((ci * ocg + o) * k + ky) * k + kx]
    } } } } } } }
    assertClose(got.floats, want)
  }

  func testMismatchedChannelsAreAnError() {
    XCTAssertThrowsError(try runOp("Conv", [randomTensor([1, 3, 5, 5], seed: 1), randomTensor([2, 2, 3, 3], seed: 2)])) {
      XCTAssertTrue("\($0)".contains("node_under_test"), "\($0)")
    }
  }
}
