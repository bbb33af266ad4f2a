/// The budgeted precision assignment: one option per layer (a multiple-choice knapsack with up
/// to two resources).
///
///     minimize   Σᵢ damage(i, oᵢ)
///     subject to Σᵢ size(i, oᵢ) ≤ size budget,   Σᵢ latency(i, oᵢ) ≤ latency budget
public struct AssignmentProblem: Sendable {
  public struct Option: Sendable, Equatable {
    /// The precision's name (fp32, fp16, int8, int4).
    public var label: String
    /// Predicted damage (measured KL, Hessian score, or a blend).
    public var damage: Double
    /// Weight bytes including scales.
    public var size: Double
    /// Seconds (0 when no latency budget is used).
    public var latency: Double
    /// Weight bits (parameters × bits per weight), for an average-bits budget.
    public var bits: Double

    public init(label: String, damage: Double, size: Double, latency: Double = 0, bits: Double = 0) {
      self.label = label
      self.damage = damage
      self.size = size
      self.latency = latency
      self.bits = bits
    }
  }

  /// Options per layer, in model order.
  public var layers: [[Option]]
  public var sizeBudget: Double?
  public var latencyBudget: Double?
  /// Upper bound of Σ bits (average bits × parameters).
  public var bitsBudget: Double?

  public init(layers: [[Option]], sizeBudget: Double? = nil, latencyBudget: Double? = nil, bitsBudget: Double? = nil) {
    self.layers = layers
    self.sizeBudget = sizeBudget
    self.latencyBudget = latencyBudget
    self.bitsBudget = bitsBudget
  }

  /// The choice (an option index per layer) and its totals.
  public struct Solution: Sendable, Equatable {
    public var choice: [Int]
    public var damage: Double
    public var size: Double
    public var latency: Double
    public var bits: Double
  }

  /// Totals of a choice.
  public func evaluate(_ choice: [Int]) -> Solution {
    var d = 0.0, s = 0.0, l = 0.0, b = 0.0
    for (i, o) in choice.enumerated() {
      d += layers[i][o].damage
      s += layers[i][o].size
      l += layers[i][o].latency
      b += layers[i][o].bits
    }
    return Solution(choice: choice, damage: d, size: s, latency: l, bits: b)
  }

  /// Whether a choice meets every budget (with a relative slack for rounding).
  public func fits(_ s: Solution) -> Bool {
    (sizeBudget.map { s.size <= $0 * (1 + 1e-9) } ?? true) && (latencyBudget.map { s.latency <= $0 * (1 + 1e-9) } ?? true)
      && (bitsBudget.map { s.bits <= $0 * (1 + 1e-9) } ?? true)
  }

  /// The smallest total size and latency any choice reaches (each on its own).
  public var smallestSize: Double { layers.reduce(0) { $0 + ($1.map(\.size).min() ?? 0) } }
  public var smallestLatency: Double { layers.reduce(0) { $0 + ($1.map(\.latency).min() ?? 0) } }
  public var smallestBits: Double { layers.reduce(0) { $0 + ($1.map(\.bits).min() ?? 0) } }
}

/// Why a budget cannot be read or no assignment exists. Each case carries the values a message
/// (or a caller's decision) needs; nothing is decided by matching the text.
public enum AllocationError: Error, CustomStringConvertible, Equatable, Sendable {
  /// A budget option's text is not a value of its kind (`option`: size budget, compression, …;
  /// `rule`: what it must be, with an example).
  case unreadableBudget(option: String, text: String, rule: String)
  /// A budget below what every layer at its smallest option reaches.
  case sizeBelowSmallest(budgetBytes: Double, smallestBytes: Double)
  case latencyBelowFastest(budgetSeconds: Double, fastestSeconds: Double)
  case bitsBelowSmallest(budgetBits: Double, smallestBits: Double)
  /// No layer to assign (GLPK aborts the process on an empty program, so it is never asked).
  case emptyProblem
  /// The integer program ended without an optimal assignment (GLPK's return and MIP status).
  case noAssignment(glpkStatus: Int32, mipStatus: Int32)
  /// A solver that handles fewer budgets than the problem has.
  case unsupportedBudget(solver: String, budget: String)

  public var description: String {
    switch self {
    case .unreadableBudget(let option, let text, let rule):
      return "\(option) '\(text)' \(rule)"
    case .sizeBelowSmallest(let b, let smallest):
      return String(format: "size budget %.0f bytes is below the smallest achievable %.0f bytes (every layer at its smallest precision)", b, smallest)
    case .latencyBelowFastest(let b, let fastest):
      return String(format: "latency budget %.3f ms is below the fastest achievable %.3f ms", b * 1e3, fastest * 1e3)
    case .bitsBelowSmallest(let b, let smallest):
      return String(format: "bit budget %.0f bits is below the smallest achievable %.0f bits", b, smallest)
    case .emptyProblem:
      return "no layers to assign a precision to"
    case .noAssignment(let status, let mip):
      return "the integer program found no assignment within the budgets (GLPK status \(status), \(mip))"
    case .unsupportedBudget(let solver, let budget):
      return "the \(solver) does not handle the \(budget) budget"
    }
  }
}
