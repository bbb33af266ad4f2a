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

/// The C LayerNormalization kernels: the same bits on every instruction set, and the definition
/// (float64) within a few float32 roundings.
final class NormKernelTests: XCTestCase {
  func testRowMomentsAndNormalizationAgreeAcrossISAsAndWithTheDefinition() {
    for inner in [1, 15, 16, 17, 384, 1001] {
      let rows = 3
      let x = randomFloats(rows * inner, seed: UInt64(inner)).map { $0 * 3 + 1 }
      let gamma = randomFloats(inner, seed: 99), beta = randomFloats(inner, seed: 98)
      var outputs: Set<[UInt32]> = []
      for isa in KernelISA.available {
        var means = [Float](repeating: .nan, count: rows), invs = means, y = x
        x.withUnsafeBufferPointer { px in
          FloatKernels.rowMoments(px.baseAddress!, rows: rows, length: inner, epsilon: 1e-5, means: &means, invs: &invs, isa: isa)
        }
        y.withUnsafeMutableBufferPointer { py in
          FloatKernels.normalizeRows(py.baseAddress!, rows: rows, length: inner, means: means, invs: invs, gamma: gamma,
            beta: beta, isa: isa)
        }
        for r in 0..<rows {
          let row = x[(r * inner)..<((r + 1) * inner)].map(Double.init)
          let mean = row.reduce(0, +) / Double(inner)
          let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(inner)
          let inv = 1 / (variance + 1e-5).squareRoot()
          XCTAssertEqual(Double(means[r]), mean, accuracy: 1e-5 * Swift.max(1, abs(mean)))
          XCTAssertEqual(Double(invs[r]), inv, accuracy: 1e-4 * inv)
          for i in 0..<inner {
            let want = (row[i] - mean) * inv * Double(gamma[i]) + Double(beta[i])
            XCTAssertEqual(Double(y[r * inner + i]), want, accuracy: 1e-4, "inner \(inner) on \(isa)")
          }
        }
        outputs.insert((means + invs + y).map(\.bitPattern))
      }
      XCTAssertEqual(outputs.count, 1, "instruction sets differ at inner \(inner)")
    }
  }
}
