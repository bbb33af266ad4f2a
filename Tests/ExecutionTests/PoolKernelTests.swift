import Kernels
import XCTest

@testable import Execution

/// The C pooling kernels: the scalar twin follows its definition bit for bit, and every vector
/// copy gives the twin's bits.
final class PoolKernelTests: XCTestCase {
  /// (in_h, in_w, k, stride, dilation, pad, extra bottom/right overhang as ceil_mode leaves it).
  static let windows: [ConvWindow] = [(1, 1, 1, 1, 1, 0, 0), (5, 9, 3, 2, 1, 1, 0), (24, 96, 3, 2, 1, 1, 0),
    (7, 33, 2, 2, 1, 0, 1), (6, 17, 3, 1, 2, 2, 0), (4, 130, 5, 3, 1, 2, 2), (3, 3, 5, 1, 1, 2, 0), (9, 40, 1, 1, 1, 0, 0)]
    .map { h, w, k, s, d, p, extra in
      ConvWindow(inH: h, inW: w, kH: k, kW: k, strideH: s, strideW: s, dilH: d, dilW: d, padTop: p, padLeft: p,
        padBottom: p + extra, padRight: p + extra)
    }

  /// The definition: taps inside the input in (kh, kw) order.
  func definition(_ x: [Float], _ g: ConvWindow, max isMax: Bool) -> [Float] {
    var y: [Float] = []
    for oh in 0..<g.outH {
      for ow in 0..<g.outW {
        var acc: Float = isMax ? -.infinity : 0
        var counted = 0
        for kh in 0..<g.kH {
          for kw in 0..<g.kW {
            let ih = oh * g.strideH - g.padTop + kh * g.dilH, iw = ow * g.strideW - g.padLeft + kw * g.dilW
            guard ih >= 0, ih < g.inH, iw >= 0, iw < g.inW else { continue }
            acc = isMax ? Swift.max(acc, x[ih * g.inW + iw]) : acc + x[ih * g.inW + iw]
            counted += 1
          }
        }
        y.append(isMax ? acc : (counted > 0 ? acc / Float(counted) : 0))
      }
    }
    return y
  }

  func pooled(_ x: [Float], _ g: ConvWindow, max: Bool, isa: KernelISA) -> [Float] {
    var y = [Float](repeating: .nan, count: g.outputPlane)
    x.withUnsafeBufferPointer { px in
      y.withUnsafeMutableBufferPointer { FloatKernels.poolPlane(px.baseAddress!, output: $0.baseAddress!, window: g, max: max, isa: isa) }
    }
    return y
  }

  func testPoolPlanesFollowTheDefinitionOnEveryISA() {
    for (i, g) in Self.windows.enumerated() {
      let x = randomFloats(g.inputPlane, seed: UInt64(i))
      for isMax in [true, false] {
        let want = definition(x, g, max: isMax).map(\.bitPattern)
        for isa in KernelISA.available {
          XCTAssertEqual(pooled(x, g, max: isMax, isa: isa).map(\.bitPattern), want, "window \(i) max \(isMax) on \(isa)")
        }
      }
    }
  }

  func testGlobalPoolsAgreeAcrossISAsAndWithTheMean() {
    for length in [1, 7, 16, 33, 576, 1001] {
      let rows = 3
      let x = randomFloats(rows * length, seed: UInt64(length))
      for isMax in [true, false] {
        var results: [[UInt32]] = []
        for isa in KernelISA.available {
          var y = [Float](repeating: .nan, count: rows)
          x.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer {
              FloatKernels.globalPool(px.baseAddress!, rows: rows, length: length, output: $0.baseAddress!, max: isMax, isa: isa)
            }
          }
          for r in 0..<rows {
            let row = x[(r * length)..<((r + 1) * length)]
            let exact = isMax ? Double(row.max()!) : row.reduce(0) { $0 + Double($1) } / Double(length)
            XCTAssertEqual(Double(y[r]), exact, accuracy: isMax ? 0 : 1e-6, "length \(length) max \(isMax) on \(isa)")
          }
          results.append(y.map(\.bitPattern))
        }
        XCTAssertEqual(Set(results.map { $0.description }).count, 1, "ISAs differ at length \(length)")
      }
    }
  }
}
