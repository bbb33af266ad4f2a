import Foundation
import Kernels
import XCTest

/// AdaRound's element kernels: their exp and log against libm, and every ISA copy against the
/// scalar twin, bit for bit.
final class AdaRoundMathTests: XCTestCase {
  func testExpAndLogApproximations() {
    var worstExp = 0.0, worstLog = 0.0
    for i in 0...20000 {
      let x = Float(-80 + Double(i) * 160 / 20000)
      let e = Double(AdaRoundKernels.exp(x)), ref = Foundation.exp(Double(x))
      worstExp = max(worstExp, abs(e - ref) / ref)
    }
    for i in 1...20000 {
      let x = Float(Double(i) / 20000)  // (0, 1]: |2h − 1| of the regulariser
      let l = Double(AdaRoundKernels.log(x)), ref = Foundation.log(Double(x))
      worstLog = max(worstLog, abs(l - ref) / max(abs(ref), 1e-3))
    }
    XCTAssertLessThan(worstExp, 1e-6)
    XCTAssertLessThan(worstLog, 1e-5)
  }

  func testEveryISAGivesTheTwinsBits() {
    var g = SystemRandomNumberGenerator()
    let n = 1000 + 37  // a tail past every vector width
    let w = (0..<n).map { _ in Float.random(in: -1...1, using: &g) }, s = (0..<n).map { _ in Float.random(in: 0.01...0.1, using: &g) }
    let floorW = zip(w, s).map { ($0 / $1).rounded(.down) }
    let v = (0..<n).map { _ in Float.random(in: -6...6, using: &g) }, grad = (0..<n).map { _ in Float.random(in: -1...1, using: &g) }
    func run(_ isa: KernelISA) -> [Float] {
      var d = [Float](repeating: 0, count: n), vv = v, m = [Float](repeating: 0.01, count: n), s2 = [Float](repeating: 0.001, count: n)
      AdaRoundKernels.softDelta(w: w, floorW: floorW, scales: s, v: v, delta: &d, count: n, qmax: 7, isa: isa)
      AdaRoundKernels.adamStep(gradient: grad, scales: s, v: &vv, m: &m, s2: &s2, count: n, beta: 11, lambda: 0.01, rate: 0.01,
        firstMoment: 0.5, secondMoment: 0.01, isa: isa)
      return d + vv + m + s2
    }
    let twin = run(.scalar)
    XCTAssertTrue(twin.allSatisfy(\.isFinite))
    for isa in KernelISA.allCases where isa.isSupported {
      XCTAssertEqual(run(isa).map(\.bitPattern), twin.map(\.bitPattern), "\(isa)")
    }
  }
}
