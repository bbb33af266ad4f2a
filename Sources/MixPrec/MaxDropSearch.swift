import Allocation
import Findings
import Foundation

/// The `--max-drop` choice: the smallest point of the size-versus-damage Pareto front whose
/// measured metric drops by at most `drop` from the FP32 reference, found by bisection over the
/// front (bounded runs), then up to three promotion rounds that correct under-predicted damages.
///
/// Bisection assumes the measured drop falls as the front's size grows (it does on average; a
/// point that breaks it only makes the result larger than needed, never failing the drop).
/// Promotion: in the largest failing plan, the layers it puts lower than the passing one are
/// raised one at a time and measured; a layer whose measured KL saving beats its predicted
/// damage was under-predicted, its damage is scaled up, and the problem is re-solved between the
/// two sizes.
public struct MaxDropSearch {
  /// Largest allowed drop of the metric (a fraction: 1% → 0.01) below `reference`.
  public var drop: Double
  public var reference: Double
  /// Points of the front the bisection runs over.
  public var frontPoints = 16
  public var promotionRounds = 3

  public init(drop: Double, reference: Double) {
    self.drop = drop
    self.reference = reference
  }

  /// - Parameters:
  ///   - problem: the assignment problem; on return its damages carry the promotions and its
  ///     size budget is the chosen point's size.
  ///   - measure: runs a solution and returns its point with `measuredDamage` and `metric`.
  ///   - checked: told of every point whose drop was tested against the limit.
  /// - Returns: the chosen solution and every point measured, in order.
  public func run(_ problem: inout AssignmentProblem,
                  measure: (String, AssignmentProblem.Solution) throws -> TuningSummary.Point,
                  checked: (TuningSummary.Point) -> Void = { _ in }) throws
    -> (solution: AssignmentProblem.Solution, measured: [TuningSummary.Point]) {
    var measured: [TuningSummary.Point] = []
    let front = try ParetoFront.sizeVersusDamage(problem, points: frontPoints).sorted { $0.size < $1.size }
    guard var best = front.last else { throw AllocationError.emptyProblem }
    var failing: AssignmentProblem.Solution? = nil
    func fits(_ label: String, _ s: AssignmentProblem.Solution) throws -> Bool {
      let p = try measure(label, s)
      measured.append(p)
      checked(p)
      return reference - (p.metric ?? -.infinity) <= drop
    }
    var lo = 0, hi = front.count - 1
    while lo <= hi {
      let mid = (lo + hi) / 2
      if try fits("front \(mid)", front[mid]) { best = front[mid]; hi = mid - 1 } else { failing = front[mid]; lo = mid + 1 }
    }
    for round in 0..<promotionRounds {
      let r = round + 1
      guard let f = failing, f.size < best.size else { break }
      let differing = f.choice.indices.filter { f.choice[$0] != best.choice[$0] }
      guard !differing.isEmpty else { break }
      let baseKL = try measure("promotion \(r) base", f).measuredDamage ?? 0
      var scaled = false
      for i in differing {
        var c = f.choice
        c[i] = best.choice[i]
        let raised = try measure("promotion \(r) layer \(i)", problem.evaluate(c)).measuredDamage ?? baseKL
        let predicted = problem.layers[i][f.choice[i]].damage - problem.layers[i][best.choice[i]].damage
        let saved = baseKL - raised
        // Under-predicted by more than rounding (a relative 1e-6: measured and predicted sums of
        // the same damages differ by a few ULPs).
        if predicted >= 0, saved - predicted > 1e-6 * max(predicted, 1e-12) {
          problem.layers[i][f.choice[i]].damage += min(saved - predicted, 100 * max(predicted, 1e-12))
          scaled = true
        }
      }
      guard scaled else { break }
      var between = problem
      between.sizeBudget = (f.size + best.size) / 2
      guard let candidate = try? MILPSolver.solve(between), candidate.size < best.size else { break }
      if try fits("promotion \(r)", candidate) { best = candidate } else { failing = candidate }
    }
    problem.sizeBudget = best.size
    return (best, measured)
  }
}
