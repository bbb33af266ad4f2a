import Allocation
import Foundation
import TensorCore

/// The exact integer program on 500 layers × 4 precisions (seeded random damages and sizes
/// shaped like FP32/FP16/INT8/INT4), at a budget of a quarter of FP32.
public enum SolverBenchmark {
  public struct Result: Sendable {
    public var seconds: Double
    /// The chosen size over FP32's.
    public var sizeFraction: Double
    /// Layers per precision label.
    public var counts: [String: Int]
  }

  public static func run(layers count: Int = 500, seed: UInt64 = 42) throws -> Result {
    var g = SeededGenerator(seed: seed)
    let layers = (0..<count).map { _ -> [AssignmentProblem.Option] in
      let params = Double(Int.random(in: 100...100_000, using: &g))
      let d = Double.random(in: 1e-6...1e-2, using: &g)
      return [AssignmentProblem.Option(label: "fp32", damage: 0, size: 4 * params),
              AssignmentProblem.Option(label: "fp16", damage: d * 1e-4, size: 2 * params),
              AssignmentProblem.Option(label: "int8", damage: d * Double.random(in: 0.01...0.1, using: &g), size: params + 16),
              AssignmentProblem.Option(label: "int4", damage: d, size: params / 2 + 16)]
    }
    var p = AssignmentProblem(layers: layers)
    let fp32 = layers.reduce(0) { $0 + $1[0].size }
    p.sizeBudget = fp32 / 4
    let clock = ContinuousClock()
    var solution: AssignmentProblem.Solution? = nil
    let t = try clock.measure { solution = try MILPSolver.solve(p) }
    guard let s = solution else { throw AllocationError.emptyProblem }
    let counts = Dictionary(grouping: s.choice.enumerated().map { layers[$0.offset][$0.element].label }, by: { $0 }).mapValues(\.count)
    return Result(seconds: t.seconds, sizeFraction: s.size / fp32, counts: counts)
  }
}
