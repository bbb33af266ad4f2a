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

/// Why no assignment exists.
public struct AllocationError: Error, CustomStringConvertible, Sendable {
  public let description: String
  public init(_ d: String) { description = d }
}
