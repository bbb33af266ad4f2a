@preconcurrency import CGLPK
import Foundation

/// The assignment as a 0-1 integer program solved exactly by GLPK's branch and cut:
///
///     x_{i,o} ∈ {0, 1},   Σ_o x_{i,o} = 1 per layer,   Σ x·size ≤ B_size,   Σ x·latency ≤ B_lat,
///     minimize Σ x·damage
public enum MILPSolver {
  public static func solve(_ p: AssignmentProblem) throws -> AssignmentProblem.Solution {
    try checkFeasible(p)
    guard let lp = glp_create_prob() else { throw AllocationError.noAssignment(glpkStatus: -1, mipStatus: -1) }
    defer { glp_delete_prob(lp) }
    glp_set_obj_dir(lp, GLP_MIN)
    // Rows: one per layer (= 1), then the budgets (≤).
    let layerCount = p.layers.count
    var budgetRows: [(row: Int32, value: (AssignmentProblem.Option) -> Double)] = []
    let budgets = [p.sizeBudget, p.latencyBudget, p.bitsBudget].compactMap { $0 }.count
    glp_add_rows(lp, Int32(layerCount + budgets))
    for i in 0..<layerCount { glp_set_row_bnds(lp, Int32(i + 1), GLP_FX, 1, 1) }
    var next = Int32(layerCount + 1)
    if let b = p.sizeBudget {
      glp_set_row_bnds(lp, next, GLP_UP, 0, b)
      budgetRows.append((next, { $0.size }))
      next += 1
    }
    if let b = p.latencyBudget {
      glp_set_row_bnds(lp, next, GLP_UP, 0, b)
      budgetRows.append((next, { $0.latency }))
      next += 1
    }
    if let b = p.bitsBudget {
      glp_set_row_bnds(lp, next, GLP_UP, 0, b)
      budgetRows.append((next, { $0.bits }))
    }
    let columns = p.layers.reduce(0) { $0 + $1.count }
    glp_add_cols(lp, Int32(columns))
    // Constraint matrix in triplets (GLPK arrays are 1-based).
    var ia: [Int32] = [0], ja: [Int32] = [0], ar: [Double] = [0]
    var column = Int32(1)
    var owner: [(layer: Int, option: Int)] = []
    for (i, options) in p.layers.enumerated() {
      for (o, option) in options.enumerated() {
        glp_set_col_kind(lp, column, GLP_BV)
        glp_set_obj_coef(lp, column, option.damage)
        ia.append(Int32(i + 1)); ja.append(column); ar.append(1)
        for (row, value) in budgetRows { ia.append(row); ja.append(column); ar.append(value(option)) }
        owner.append((i, o))
        column += 1
      }
    }
    glp_load_matrix(lp, Int32(ia.count - 1), &ia, &ja, &ar)
    var parm = glp_iocp()
    glp_init_iocp(&parm)
    parm.presolve = GLP_ON
    parm.msg_lev = GLP_MSG_OFF
    parm.mip_gap = 0
    let status = glp_intopt(lp, &parm)
    guard status == 0, glp_mip_status(lp) == GLP_OPT else {
      throw AllocationError.noAssignment(glpkStatus: status, mipStatus: glp_mip_status(lp))
    }
    var choice = [Int](repeating: 0, count: layerCount)
    for (k, o) in owner.enumerated() where glp_mip_col_val(lp, Int32(k + 1)) > 0.5 { choice[o.layer] = o.option }
    return p.evaluate(choice)
  }

  /// One clear error with the smallest achievable value when a budget is below every choice.
  public static func checkFeasible(_ p: AssignmentProblem) throws {
    guard !p.layers.isEmpty, p.layers.allSatisfy({ !$0.isEmpty }) else { throw AllocationError.emptyProblem }
    if let b = p.sizeBudget, p.smallestSize > b * (1 + 1e-9) {
      throw AllocationError.sizeBelowSmallest(budgetBytes: b, smallestBytes: p.smallestSize)
    }
    if let b = p.latencyBudget, p.smallestLatency > b * (1 + 1e-9) {
      throw AllocationError.latencyBelowFastest(budgetSeconds: b, fastestSeconds: p.smallestLatency)
    }
    if let b = p.bitsBudget, p.smallestBits > b * (1 + 1e-9) {
      throw AllocationError.bitsBelowSmallest(budgetBits: b, smallestBits: p.smallestBits)
    }
  }
}

/// An exact dynamic program over integer sizes (one budget), the independent cross-check of the
/// integer program: best[i][s] = least damage of layers 0..<i with total size s.
public enum DynamicProgramSolver {
  /// - Parameter unit: sizes are divided by this and must then be integers.
  public static func solve(_ p: AssignmentProblem, unit: Double = 1) throws -> AssignmentProblem.Solution {
    try MILPSolver.checkFeasible(p)
    guard p.latencyBudget == nil else { throw AllocationError.unsupportedBudget(solver: "dynamic program", budget: "latency") }
    guard p.bitsBudget == nil else { throw AllocationError.unsupportedBudget(solver: "dynamic program", budget: "bits") }
    let cap = Int(((p.sizeBudget ?? p.layers.reduce(0) { $0 + ($1.map(\.size).max() ?? 0) }) / unit).rounded(.down))
    let sizes = p.layers.map { $0.map { Int(($0.size / unit).rounded()) } }
    var best = [Double](repeating: .infinity, count: cap + 1)
    best[0] = 0
    var pick: [[Int8]] = []
    for (i, options) in p.layers.enumerated() {
      var next = [Double](repeating: .infinity, count: cap + 1)
      var choice = [Int8](repeating: -1, count: cap + 1)
      for s in 0...cap where best[s].isFinite {
        for (o, option) in options.enumerated() {
          let t = s + sizes[i][o]
          if t <= cap && best[s] + option.damage < next[t] { next[t] = best[s] + option.damage; choice[t] = Int8(o) }
        }
      }
      best = next
      pick.append(choice)
    }
    guard let end = best.indices.filter({ best[$0].isFinite }).min(by: { best[$0] < best[$1] }) else {
      throw AllocationError.sizeBelowSmallest(budgetBytes: p.sizeBudget ?? 0, smallestBytes: p.smallestSize)
    }
    var choice = [Int](repeating: 0, count: p.layers.count), s = end
    for i in stride(from: p.layers.count - 1, through: 0, by: -1) {
      let o = Int(pick[i][s])
      choice[i] = o
      s -= sizes[i][o]
    }
    return p.evaluate(choice)
  }
}
