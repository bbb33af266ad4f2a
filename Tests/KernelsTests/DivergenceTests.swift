import Foundation
import XCTest
@testable import Kernels
import TensorCore

/// The comparison kernels: their log is libm's within a few ULP, every ISA gives the scalar
/// twin's bits, and the sums equal a Double reference computed with libm.
final class DivergenceTests: XCTestCase {
  func testLogIsLibmWithinTwoULP() {
    var rng = SeededGenerator(seed: 3)
    var values: [Double] = [1, 2, 0.5, Double.leastNormalMagnitude, Double.greatestFiniteMagnitude, 1.4142135623730951,
                            1.4142135623730954, 0.7071067811865475, 1 + 1e-15, 1 - 1e-15, 1e-45, 3.4e38 / 1e-30]
    for _ in 0..<20_000 { values.append(Foundation.exp(Double.random(in: -700...700, using: &rng))) }
    for _ in 0..<5_000 { values.append(Double.random(in: 0.9...1.1, using: &rng)) }
    for v in values {
      let want = Foundation.log(v), got = Divergence.log(v)
      XCTAssertLessThanOrEqual(abs(got - want), 4.5e-16 * max(1, abs(want)), "log(\(v))")
    }
  }

  /// Rows whose lengths miss the 8-lane blocks, zeros, tiny and clamped values.
  private func rows(_ count: Int, seed: UInt64) -> ([Float], [Float]) {
    var rng = SeededGenerator(seed: seed)
    var x = (0..<count).map { _ in Float.random(in: 0...1, using: &rng) }
    var y = x.map { $0 * Float.random(in: 0.8...1.25, using: &rng) }
    if count > 4 { x[1] = 0; y[2] = 0; x[3] = 1e-30; y[4] = 1 }
    return (x, y)
  }

  func testSumsEqualALibmReferenceAndAgreeAcrossISAs() {
    for count in [0, 1, 7, 8, 9, 63, 1000, 6625] {
      let (x, y) = rows(count, seed: UInt64(count) + 1)
      var sx = 0.0, sy = 0.0, xx = 0.0, yy = 0.0, xy = 0.0, err = 0.0
      for i in 0..<count {
        let u = Double(x[i]), v = Double(y[i])
        sx += max(u, 0); sy += max(v, 0); xx += u * u; yy += v * v; xy += u * v; err += (u - v) * (u - v)
      }
      let floor = 1e-30 * sy, eps = 1e-7
      var kl = 0.0, bernoulli = 0.0
      for i in 0..<count {
        let u = Double(x[i]), v = Double(y[i])
        if u > 0 { kl += u * Foundation.log(u / max(v, floor)) }
        let p = min(max(u, eps), 1 - eps), q = min(max(v, eps), 1 - eps)
        bernoulli += p * Foundation.log(p / q) + (1 - p) * Foundation.log((1 - p) / (1 - q))
      }
      x.withUnsafeBufferPointer { px in
        y.withUnsafeBufferPointer { py in
          let scalar = (Divergence.rowSums(px, py, isa: .scalar), Divergence.probsTerms(px, py, floor: floor, isa: .scalar),
                        Divergence.bernoulliTerms(px, py, eps: eps, isa: .scalar))
          func close(_ a: Double, _ b: Double, _ what: String) {
            XCTAssertLessThanOrEqual(abs(a - b), 1e-12 * max(1, abs(b)), "\(what), count \(count)")
          }
          close(scalar.0.xx, xx, "Σx²"); close(scalar.0.yy, yy, "Σy²"); close(scalar.0.xy, xy, "Σxy")
          close(scalar.0.squaredError, err, "Σ(x−y)²"); close(scalar.0.positiveX, sx, "Σx⁺"); close(scalar.0.positiveY, sy, "Σy⁺")
          close(scalar.1, kl, "probs"); close(scalar.2, bernoulli, "bernoulli")
          for isa in vectorISAs {
            XCTAssertEqual(Divergence.rowSums(px, py, isa: isa), scalar.0, "row sums on \(isa), count \(count)")
            XCTAssertEqual(Divergence.probsTerms(px, py, floor: floor, isa: isa), scalar.1, "probs on \(isa), count \(count)")
            XCTAssertEqual(Divergence.bernoulliTerms(px, py, eps: eps, isa: isa), scalar.2, "bernoulli on \(isa), count \(count)")
          }
        }
      }
    }
  }
}
