import TensorCore

extension Graph {
  /// Orders nodes so every node follows the producers of its inputs (Kahn's algorithm,
  /// stable with respect to the file order). Throws on cycles.
  public mutating func sortTopologically() throws {
    let producer = producers()
    var indegree = [Int](repeating: 0, count: nodes.count)
    var consumers = [[Int]](repeating: [], count: nodes.count)
    for (i, n) in nodes.enumerated() {
      for input in Set(n.inputs) where !input.isEmpty {
        if let p = producer[input], p != i {
          indegree[i] += 1
          consumers[p].append(i)
        }
      }
    }
    var ready = (0..<nodes.count).filter { indegree[$0] == 0 }.reversed() as [Int]
    var order: [Int] = []
    order.reserveCapacity(nodes.count)
    while let i = ready.popLast() {
      order.append(i)
      for c in consumers[i].reversed() {
        indegree[c] -= 1
        if indegree[c] == 0 { ready.append(c) }
      }
      ready.sort(by: >)
    }
    guard order.count == nodes.count else {
      let stuck = (0..<nodes.count).first { indegree[$0] > 0 }.map { nodes[$0].name } ?? "?"
      throw GraphError("the graph has a cycle through node '\(stuck)'; ONNX graphs must be acyclic")
    }
    nodes = order.map { nodes[$0] }
  }

  /// Turns `Constant` nodes into initializers (paddle2onnx keeps every weight in one).
  public mutating func hoistConstants() throws {
    var kept: [Node] = []
    for n in nodes {
      guard n.opType == "Constant", n.domain.isEmpty || n.domain == "ai.onnx" else {
        kept.append(n)
        continue
      }
      let value: Tensor
      if let t = n.tensor("value") {
        value = t
      } else if case .float(let f)? = n.attributes["value_float"] {
        value = Tensor(shape: [], floats: [f])
      } else if let fs = n.floats("value_floats") {
        value = Tensor(shape: [fs.count], floats: fs)
      } else if let i = n.int("value_int") {
        value = Tensor(shape: [], ints: [Int64(i)])
      } else if let isv = n.ints("value_ints") {
        value = Tensor(shape: [isv.count], ints: isv.map(Int64.init))
      } else {
        throw GraphError("Constant node '\(n.name)' has no supported value attribute (value, value_float(s), value_int(s))")
      }
      initializers[n.outputs[0]] = value
    }
    nodes = kept
  }

  /// Replaces `Identity` and `Dropout` (inference mode) by wiring their input straight through.
  public mutating func removeIdentities() {
    let graphOutputs = Set(outputs.map(\.name))
    var rename: [String: String] = [:]
    var kept: [Node] = []
    func resolve(_ v: String) -> String { var v = v; while let r = rename[v] { v = r }; return v }
    for var n in nodes {
      n.inputs = n.inputs.map { $0.isEmpty ? $0 : resolve($0) }
      let isPassThrough = n.opType == "Identity" || (n.opType == "Dropout" && n.outputs.dropFirst().allSatisfy { $0.isEmpty })
      if isPassThrough, let x = n.input(0), !graphOutputs.contains(n.outputs[0]) {
        rename[n.outputs[0]] = x
      } else {
        kept.append(n)
      }
    }
    nodes = kept
  }

  /// Drops nodes none of whose outputs reach a graph output, and unused initializers.
  public mutating func eliminateDeadNodes() {
    var live = Set(outputs.map(\.name))
    var keep = [Bool](repeating: false, count: nodes.count)
    for i in stride(from: nodes.count - 1, through: 0, by: -1) where nodes[i].outputs.contains(where: live.contains) {
      keep[i] = true
      for input in nodes[i].inputs where !input.isEmpty { live.insert(input) }
    }
    nodes = nodes.indices.filter { keep[$0] }.map { nodes[$0] }
    initializers = initializers.filter { live.contains($0.key) }
  }
}
