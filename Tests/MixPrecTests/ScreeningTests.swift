import Findings
import Foundation
import MixPrec
import XCTest

/// The screened sweep's rules on numbers alone: the fits, the Lagrange multiplier, which pairs
/// stay uncertain, and a whole screening loop on synthetic layers whose damages follow Ω with
/// log-normal noise.
final class ScreeningTests: XCTestCase {
  func testFitRecoversAPowerLaw() {
    let pairs = [1e-3, 1e-2, 0.1, 1, 10].map { w in (omega: w, damage: 0.5 * pow(w, 0.8)) }
    let f = Screening.fit(pairs)
    XCTAssertEqual(f.slope, 0.8, accuracy: 1e-9)
    XCTAssertEqual(f.intercept, log(0.5), accuracy: 1e-9)
    XCTAssertEqual(f.spread, 0.25, "exact data: the spread's floor")
    XCTAssertEqual(Screening.predict(f, omega: 3), 0.5 * pow(3, 0.8), accuracy: 1e-12)
    XCTAssertEqual(Screening.fit([(omega: 2, damage: 6)]).slope, 1, "one pair: slope 1 through it")
    XCTAssertEqual(Screening.predict(Screening.fit([(omega: 2, damage: 6)]), omega: 4), 12, accuracy: 1e-9)
  }

  func testMultiplierIsTheSmallestThatFits() {
    let damage: [[Double]] = [[0, 1e-6, 1e-3], [0, 1e-5, 1e-2], [0, 1e-4, 1e-1]]
    let resource: [[Double]] = [[100, 50, 25], [100, 50, 25], [100, 50, 25]]
    let lambda = Screening.multiplier(damage: damage, resource: resource, budget: 170)
    func used(_ l: Double) -> Double {
      Screening.choice(damage: damage, resource: resource, lambda: l).enumerated().reduce(0) { $0 + resource[$1.offset][$1.element] }
    }
    XCTAssertLessThanOrEqual(used(lambda), 170)
    XCTAssertGreaterThan(used(lambda * 0.99), 170)
    XCTAssertEqual(Screening.choice(damage: damage, resource: resource, lambda: lambda), [1, 1, 1], "200 bytes with the last layer at fp32 do not fit")
  }

  func testEveryPairMeasuredLeavesNothingUncertain() {
    let rules = Screening(resource: [[4, 2, 1], [4, 2, 1]], budget: 5, omega: [[nil, 1, 2], [nil, 3, 4]])
    let measured: [[Double?]] = [[nil, 0.1, 0.2], [nil, 0.3, 0.4]]
    XCTAssertTrue(rules.uncertain(measured: measured, fits: rules.fits(measured: measured)).isEmpty)
    XCTAssertEqual(rules.seed(count: 4).count, 4, "two layers at both candidates")
  }

  /// A pair measured on a sub-sample gets the band d·e^{±zσ} of the probe's spread; a wide
  /// spread leaves a close call uncertain, a narrow one decides it.
  func testProbedPairsBandByTheProbeSpread() {
    XCTAssertEqual(Screening.probeSpread([(1, 1), (2, 2), (3, 3)]), 0.05, "exact probes: the floor")
    XCTAssertEqual(Screening.probeSpread([(1, 2)]), 1, "too few pairs: a wide spread")
    XCTAssertEqual(Screening.probeSpread([(1, exp(0.3)), (1, exp(-0.3)), (1, exp(0.1))]), 1.4826 * 0.3, accuracy: 1e-12, "the median's")
    XCTAssertEqual(Screening.probeSpread([(1, exp(0.1)), (1, exp(-0.1)), (1, exp(0.1)), (1e-14, 1)]), 1.4826 * 0.1, accuracy: 1e-12, "a near-zero probe is left out")
    // Two layers of 4/2/1 units, budget 3: one of them must drop to the 1-unit option.
    let rules = Screening(resource: [[4, 2, 1], [4, 2, 1]], budget: 3, omega: [[nil, 1, 2], [nil, 1, 2]])
    let measured: [[Double?]] = [[nil, 0.01, 1.0], [nil, 0.01, nil]]
    let probed: [[Double?]] = [[nil, nil, nil], [nil, nil, 1.1]]
    let fits = rules.fits(measured: measured)
    let band = rules.bands(measured: measured, fits: fits, probed: probed, probeSpread: [0, 0.1, 0.1])[1][2]
    XCTAssertEqual(try XCTUnwrap(band).lowerBound, 1.1 * exp(-0.2), accuracy: 1e-12)
    XCTAssertEqual(try XCTUnwrap(band).upperBound, 1.1 * exp(0.2), accuracy: 1e-12)
    XCTAssertEqual(rules.uncertain(measured: measured, fits: fits, probed: probed, probeSpread: [0, 1, 1]),
                   [Screening.Pair(layer: 1, option: 2)], "1.1 vs 1.0 within e^{±2}: measure it")
    let far: [[Double?]] = [[nil, nil, nil], [nil, nil, 100]]
    XCTAssertTrue(rules.uncertain(measured: measured, fits: fits, probed: far, probeSpread: [0, 0.1, 0.1]).isEmpty, "100 vs 1.0: decided")
  }

  /// 60 layers, damage = Ω·e^{ε}, ε ~ N(0, 0.3²): the loop measures fewer pairs than the
  /// full sweep, and the budgeted choice on its damages is the choice on the true ones.
  func testScreeningLoopReachesTheTrueChoice() {
    var rng = SplitMix(state: 7)
    let layers = 60
    var omega: [[Double?]] = [], truth: [[Double]] = [], resource: [[Double]] = []
    for _ in 0..<layers {
      let trace = exp(Double.random(in: -6...2, using: &rng)), size = Double(Int.random(in: 1_000...100_000, using: &rng))
      let w: [Double] = [trace * 1e-4, trace * 1e-2, trace * 0.3]  // fp16, int8, int4 weight errors
      omega.append([nil] + w.map { Optional($0) })
      truth.append([0] + w.map { $0 * exp(0.3 * rng.normal()) })
      resource.append([size, size / 2, size / 4 + 8, size / 8 + 8])
    }
    let budget = resource.reduce(0) { $0 + $1[0] } / 4
    let rules = Screening(resource: resource, budget: budget, omega: omega)
    var measured = [[Double?]](repeating: [nil, nil, nil, nil], count: layers)
    var next = rules.seed(count: 10), count = 0
    while !next.isEmpty {
      for p in next { measured[p.layer][p.option] = truth[p.layer][p.option] }
      count += next.count
      next = rules.uncertain(measured: measured, fits: rules.fits(measured: measured))
    }
    XCTAssertLessThan(count, layers * 3, "every pair measured")
    let bands = rules.bands(measured: measured, fits: rules.fits(measured: measured))
    let screened = bands.map { $0.map { b in b.map { sqrt($0.lowerBound * $0.upperBound) } ?? 0 } }
    func choice(_ d: [[Double]]) -> [Int] {
      Screening.choice(damage: d, resource: resource, lambda: Screening.multiplier(damage: d, resource: resource, budget: budget))
    }
    XCTAssertEqual(choice(screened), choice(truth))
  }
}

/// A seeded generator for the synthetic layers (SplitMix64).
struct SplitMix: RandomNumberGenerator {
  var state: UInt64
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
  /// A standard normal draw (Box–Muller).
  mutating func normal() -> Double {
    let u = Double.random(in: Double.ulpOfOne..<1, using: &self), v = Double.random(in: 0..<1, using: &self)
    return sqrt(-2 * log(u)) * cos(2 * .pi * v)
  }
}
