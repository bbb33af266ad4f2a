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
  ///
  /// - Parameter samples: real inputs to draw the batch from (rows taken in turn) when their
  ///   shapes agree with `shapes` but for the batch; random inputs otherwise.
  public static func run(_ session: Session, shapes: [String: [Int]], runs: Int, profile: Bool = false,
                         samples: [String: Tensor]? = nil) throws -> Measurement {
    let feeds = samples.flatMap { batch(of: $0, shapes: shapes) } ?? randomFeeds(session.graph, shapes: shapes)
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
      slowestNodes: Array(perNode.sorted { $0.ms > $1.ms }.prefix(80)))
  }

  /// `shapes[0]` rows drawn in turn from `samples`, or nil when a sample shape differs from
  /// `shapes` beyond the batch dimension.
  public static func batch(of samples: [String: Tensor], shapes: [String: [Int]]) -> [String: Tensor]? {
    var out: [String: Tensor] = [:]
    for (name, s) in shapes {
      guard let t = samples[name], t.rank == s.count, t.rank > 0, t.shape[0] > 0, Array(t.shape.dropFirst()) == Array(s.dropFirst())
      else { return nil }
      out[name] = t.rows(at: (0..<s[0]).map { $0 % t.shape[0] })
    }
    return out
  }

  /// Random inputs at `shapes`: floats in [-1, 1]; integer inputs small non-negative integers
  /// (token ids below 100, masks all 1, token types 0).
  public static func randomFeeds(_ graph: Graph, shapes: [String: [Int]]) -> [String: Tensor] {
    var rng = SystemRandomNumberGenerator()
    return Dictionary(uniqueKeysWithValues: graph.inputs.map { input -> (String, Tensor) in
      let s = shapes[input.name] ?? [], count = s.reduce(1, *)
      if input.dtype == .int64 || input.dtype == .int32 {
        let name = input.name.lowercased()
        let range: ClosedRange<Int64> = name.contains("mask") ? 1...1 : name.contains("type") || name.contains("segment") ? 0...0 : 0...99
        return (input.name, Tensor(dtype: input.dtype, shape: s, storage: .int((0..<count).map { _ in Int64.random(in: range, using: &rng) })))
      }
      return (input.name, Tensor(shape: s, floats: (0..<count).map { _ in Float.random(in: -1...1, using: &rng) }))
    })
  }
}
