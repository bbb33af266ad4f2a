import GraphIR
import TensorCore

extension GraphPreparation {
  /// Many exported models declare a batch of 1 (`1×3×800×608`) although nothing in them depends
  /// on it. Such a model would refuse a calibration folder of 64 samples; this makes its inputs'
  /// batch dimension dynamic when the graph keeps every sample separate. Run on zeros at batch 1
  /// and at batch 2, a value "carries the batch" when its shape changes; then:
  ///
  /// - every value's shape is unchanged or has exactly its dimension 0 doubled (a Reshape to a
  ///   hard-coded `[2, -1]` changes another dimension; a Transpose moving axis 0 does too);
  /// - a node reading a value that carries the batch writes values that carry it (except Shape
  ///   and Size): a reduction over every axis or a Gather of fixed rows would mix or drop samples;
  /// - no node works along axis 0 of a first input that carries the batch (Softmax, Concat,
  ///   Split, Gather… on the batch axis);
  /// - every graph output carries the batch.
  ///
  /// A Reshape to a hard-coded `[1, …]` is first made to copy dimension 0 instead (see
  /// `copyBatchInReshapes`). Every input must declare dimension 0 as 1 or leave it dynamic, and
  /// all its other dimensions. Returns the graph (inputs and outputs with a dynamic dimension 0 when relaxed)
  /// and the names of the inputs relaxed (empty: the graph as given).
  public static func relaxingFixedBatch(_ graph: Graph) -> (graph: Graph, relaxed: [String]) {
    let fixed = graph.inputs.filter { $0.shape.first == 1 }
    guard !fixed.isEmpty, graph.inputs.allSatisfy({ !$0.shape.isEmpty && $0.shape.dropFirst().allSatisfy { $0 != nil } })
    else { return (graph, []) }
    var open = graph
    for i in open.inputs.indices { open.inputs[i].shape[0] = nil }
    func shapes(_ g: Graph, _ batch: Int) -> [String: [Int]]? {
      let inputs = Dictionary(uniqueKeysWithValues: g.inputs.map { ($0.name, [batch] + $0.shape.dropFirst().map { $0! }) })
      return try? specialize(g, inputShapes: inputs).1
    }
    guard let declared = shapes(open, 1) else { return (graph, []) }
    copyBatchInReshapes(&open, shapes: declared)
    guard let one = shapes(open, 1), let two = shapes(open, 2) else { return (graph, []) }
    func carries(_ name: String) -> Bool? {
      guard let a = one[name], let b = two[name] else { return nil }
      if a == b { return false }
      return a.count == b.count && !a.isEmpty && b[0] == 2 * a[0] && a.dropFirst() == b.dropFirst() ? true : nil
    }
    for node in graph.nodes {
      let outs = node.outputs.filter { !$0.isEmpty }.map(carries)
      if outs.contains(where: { $0 == nil }) { return (graph, []) }
      guard node.inputs.contains(where: { !$0.isEmpty && carries($0) == true }) else { continue }
      if !["Shape", "Size"].contains(node.opType) && outs.contains(where: { $0 == false }) { return (graph, []) }
      if let first = node.inputs.first, carries(first) == true, worksAlongAxisZero(node, rank: one[first]?.count ?? 0) {
        return (graph, [])
      }
    }
    guard graph.outputs.allSatisfy({ carries($0.name) == true }) else { return (graph, []) }
    for i in open.outputs.indices where !open.outputs[i].shape.isEmpty { open.outputs[i].shape[0] = nil }
    return (open, fixed.map(\.name))
  }

  /// A Reshape to a constant shape whose dimension 0 is a hard-coded 1 (`[1, 10, -1]`), on data
  /// whose dimension 0 is 1, reads 0 there instead ("copy the input's dimension"): the same
  /// shape at batch 1, the batch's at any other (the checks above decide whether that holds).
  private static func copyBatchInReshapes(_ g: inout Graph, shapes: [String: [Int]]) {
    for (i, node) in g.nodes.enumerated() where node.opType == "Reshape" && node.inputs.count == 2 {
      if case .int(let z)? = node.attributes["allowzero"], z != 0 { continue }
      guard let target = g.initializers[node.inputs[1]], target.rank == 1, target.count > 1,
        case .int(let dims) = target.storage, dims[0] == 1, shapes[node.inputs[0]]?.first == 1
      else { continue }
      let name = node.inputs[1] + "__batch_\(i)"
      g.initializers[name] = Tensor(dtype: .int64, shape: [dims.count], storage: .int([0] + dims.dropFirst()))
      g.nodes[i].inputs[1] = name
    }
  }

  /// Whether `node` works along axis 0 of its first input (negative axes counted from `rank`).
  private static func worksAlongAxisZero(_ node: Node, rank: Int) -> Bool {
    func zero(_ a: Int) -> Bool { a == 0 || (rank > 0 && a == -rank) }
    if case .int(let a)? = node.attributes["axis"], zero(a) { return true }
    if case .ints(let list)? = node.attributes["axes"], list.contains(where: zero) { return true }
    // ops whose default axis is 0
    if ["Gather", "Split", "Concat"].contains(node.opType) && node.attributes["axis"] == nil { return true }
    return false
  }
}
