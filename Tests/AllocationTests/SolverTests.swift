import Allocation
import TensorCore
import XCTest

/// The integer program against brute force and the dynamic program on random small instances.
final class SolverTests: XCTestCase {
  func randomProblem(layers: Int, options: Int, seed: UInt64, latency: Bool) -> AssignmentProblem {
    var g = SeededGenerator(seed: seed)
    let ls = (0..<layers).map { _ -> [AssignmentProblem.Option] in
      // Smaller options damage more, as precisions do; sizes are integers for the DP.
      let base = Double(Int.random(in: 4...40, using: &g))
      return (0..<options).map { o in
        AssignmentProblem.Option(label: "p\(o)", damage: o == 0 ? 0 : Double.random(in: 0...1, using: &g) * Double(o),
          size: (base / Double(1 << o)).rounded(.up), latency: latency ? Double.random(in: 0.1...1, using: &g) : 0)
      }
    }
    let p = AssignmentProblem(layers: ls)
    let lo = p.smallestSize, hi = ls.reduce(0) { $0 + $1[0].size }
    var q = p
    q.sizeBudget = (lo + (hi - lo) * Double.random(in: 0.2...0.8, using: &g)).rounded()
    if latency { q.latencyBudget = p.smallestLatency + Double.random(in: 0.5...2, using: &g) }
    return q
  }

  func bruteForce(_ p: AssignmentProblem) -> AssignmentProblem.Solution? {
    var best: AssignmentProblem.Solution? = nil
    var choice = [Int](repeating: 0, count: p.layers.count)
    func visit(_ i: Int) {
      if i == p.layers.count {
        let s = p.evaluate(choice)
        if p.fits(s) && s.damage < (best?.damage ?? .infinity) { best = s }
        return
      }
      for o in p.layers[i].indices { choice[i] = o; visit(i + 1) }
    }
    visit(0)
    return best
  }

  func testOptimalVersusBruteForceAndTheDynamicProgram() throws {
    for seed in 0..<40 as Range<UInt64> {
      let p = randomProblem(layers: 7, options: 4, seed: seed, latency: false)
      let exact = try XCTUnwrap(bruteForce(p))
      let milp = try MILPSolver.solve(p), dp = try DynamicProgramSolver.solve(p)
      XCTAssertTrue(p.fits(milp) && p.fits(dp))
      XCTAssertEqual(milp.damage, exact.damage, accuracy: 1e-9, "seed \(seed)")
      XCTAssertEqual(dp.damage, exact.damage, accuracy: 1e-9, "seed \(seed)")
    }
  }

  func testCombinedSizeAndLatencyBudgetsAreRespected() throws {
    var bound = 0
    for seed in 100..<140 as Range<UInt64> {
      let p = randomProblem(layers: 6, options: 4, seed: seed, latency: true)
      guard let exact = bruteForce(p) else {
        XCTAssertThrowsError(try MILPSolver.solve(p))
        continue
      }
      let s = try MILPSolver.solve(p)
      XCTAssertLessThanOrEqual(s.size, p.sizeBudget!)
      XCTAssertLessThanOrEqual(s.latency, p.latencyBudget! * (1 + 1e-9))
      XCTAssertEqual(s.damage, exact.damage, accuracy: 1e-9, "seed \(seed)")
      // Dropping the latency budget never makes the optimum worse; count where it binds.
      var sizeOnly = p
      sizeOnly.latencyBudget = nil
      let relaxed = try MILPSolver.solve(sizeOnly)
      XCTAssertLessThanOrEqual(relaxed.damage, s.damage + 1e-12)
      if relaxed.damage < s.damage - 1e-12 { bound += 1 }
    }
    XCTAssertGreaterThan(bound, 0, "the latency budget never mattered: the test does not test it")
  }

  func testInfeasibleBudgetNamesTheSmallestAchievable() {
    var p = randomProblem(layers: 5, options: 3, seed: 7, latency: false)
    p.sizeBudget = p.smallestSize - 1
    XCTAssertThrowsError(try MILPSolver.solve(p)) { e in
      XCTAssertTrue("\(e)".contains(String(format: "smallest achievable %.0f bytes", p.smallestSize)), "\(e)")
    }
  }

  func testParetoFrontFallsAsTheBudgetGrows() throws {
    let p = randomProblem(layers: 10, options: 4, seed: 3, latency: false)
    let front = try ParetoFront.sizeVersusDamage(p, points: 10)
    XCTAssertGreaterThan(front.count, 2)
    for (a, b) in zip(front, front.dropFirst()) { XCTAssertLessThan(b.damage, a.damage) }
    XCTAssertEqual(front.last!.damage, 0, accuracy: 1e-12, "at the full size every layer keeps its lossless option")
  }
}
