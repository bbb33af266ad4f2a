import GraphIR
import TensorCore

extension Session {
  /// Runs the feeds in slices of `batch` samples along axis 0 and concatenates the outputs,
  /// so memory stays bounded by one slice's activations whatever the folder holds.
  public func runInBatches(_ feeds: [String: Tensor], batch: Int) throws -> [String: Tensor] {
    let total = feeds.values.first?.shape.first ?? 0
    guard batch > 0, total > batch, feeds.values.allSatisfy({ $0.shape.first == total }) else { return try run(feeds) }
    var parts: [String: [Tensor]] = [:]
    for start in stride(from: 0, to: total, by: batch) {
      let range = start..<min(start + batch, total)
      let out = try run(feeds.mapValues { $0.rows(range) })
      for (k, v) in out { parts[k, default: []].append(v) }
    }
    return try parts.mapValues { pieces in
      let node = Node(name: "batch_concat", opType: "Concat", inputs: [], outputs: ["y"], attributes: ["axis": .int(0)])
      return try MovementOps.concat(node, pieces)
    }
  }
}
