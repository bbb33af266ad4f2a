import Execution
import Foundation
import GraphIR
import TensorCore

/// FP32 latency of a model on the runtime at given input shapes (random inputs in [-1, 1]).
public enum ModelBenchmark {
  public struct Measurement: Sendable {
    /// Milliseconds of each timed run, sorted.
    public var times: [Double]
    public var medianMs: Double { times[times.count / 2] }
    public var minMs: Double { times[0] }
    /// Milliseconds and node count per op type over one run, largest first (when profiled).
    public var profile: [(op: String, ms: Double, nodes: Int)]
    /// The slowest nodes of that run, slowest first (when profiled).
    public var slowestNodes: [(node: String, op: String, ms: Double)] = []
  }

  /// Times `runs` runs after one warm-up (which also specializes the graph for the shapes).
  public static func run(_ session: Session, shapes: [String: [Int]], runs: Int, profile: Bool = false) throws -> Measurement {
    let feeds = randomFeeds(session.graph, shapes: shapes)
    _ = try session.run(feeds)
    let clock = ContinuousClock()
    var times: [Double] = []
    for _ in 0..<max(runs, 1) {
      times.append(try clock.measure { _ = try session.run(feeds) }.seconds * 1e3)
    }
    times.sort()
    var perOp: [String: (Double, Int)] = [:]
    var perNode: [(node: String, op: String, ms: Double)] = []
    if profile {
      _ = try session.run(feeds, profile: { node, ns in
        perNode.append((node.name, node.opType, Double(ns) / 1e6))
        let key = node.opType + (node.int("group", default: 1) > 1 ? " (grouped)" : "")
        perOp[key, default: (0, 0)].0 += Double(ns) / 1e6
        perOp[key, default: (0, 0)].1 += 1
      })
    }
    return Measurement(times: times, profile: perOp.sorted { $0.value.0 > $1.value.0 }.map { ($0.key, $0.value.0, $0.value.1) },
      slowestNodes: Array(perNode.sorted { $0.ms > $1.ms }.prefix(10)))
  }

  /// Random inputs at `shapes`: floats in [-1, 1]; integer inputs (token ids, masks) small
  /// non-negative integers (0/1 for a mask).
  public static func randomFeeds(_ graph: Graph, shapes: [String: [Int]]) -> [String: Tensor] {
    var rng = SystemRandomNumberGenerator()
    return Dictionary(uniqueKeysWithValues: graph.inputs.map { input -> (String, Tensor) in
      let s = shapes[input.name] ?? [], count = s.reduce(1, *)
      if input.dtype == .int64 || input.dtype == .int32 {
        let top: Int64 = input.name.lowercased().contains("mask") ? 1 : 99
        return (input.name, Tensor(dtype: input.dtype, shape: s, storage: .int((0..<count).map { _ in Int64.random(in: 0...top, using: &rng) })))
      }
      return (input.name, Tensor(shape: s, floats: (0..<count).map { _ in Float.random(in: -1...1, using: &rng) }))
    })
  }
}
