/// Least predicted damage as a function of the size budget: the assignment solved at evenly
/// spaced budgets from the smallest achievable size to the largest, dominated points dropped.
public enum ParetoFront {
  public static func sizeVersusDamage(_ p: AssignmentProblem, points: Int = 12) throws -> [AssignmentProblem.Solution] {
    let lo = p.smallestSize, hi = p.layers.reduce(0) { $0 + ($1.map(\.size).max() ?? 0) }
    var front: [AssignmentProblem.Solution] = []
    for k in 0..<max(points, 2) {
      var q = p
      q.sizeBudget = lo + (hi - lo) * Double(k) / Double(max(points, 2) - 1)
      let s = try MILPSolver.solve(q)
      if let last = front.last, last.damage <= s.damage { continue }
      front.append(s)
    }
    return front
  }
}
