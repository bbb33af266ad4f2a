import GraphIR
import TensorCore

/// Nodes after a Conv, or after a MatMul with a constant weight, that the interpreter runs inside
/// it: one pass over the output while it is in cache instead of a pass (and a new tensor) per node.
///
///     Conv   → [activation] → [Mul/Add by a scalar]…
///     MatMul → [Add of a constant per output column] → [activation or erf GELU] → [Mul/Add by a scalar]…
///
/// Every absorbed value has the next absorbed node as its only reader and is no graph output, so
/// no other node can see the difference; each step rounds as its node does.
struct EpilogueFusion {
  /// The absorbed nodes in order; the last one's outputs become the fused node's.
  var absorbed: [Int]
  /// MatMul: the Add's constant, one value per output column (nil: none).
  var columnBias: [Float]?
  var epilogue: Epilogue

  /// The fusion of every Conv or constant-weight MatMul that has one, by node index.
  static func find(in graph: Graph) -> [Int: EpilogueFusion] {
    let finder = Finder(graph)
    var result: [Int: EpilogueFusion] = [:]
    for (i, n) in graph.nodes.enumerated() where n.outputs.count == 1 {
      let matmulColumns = n.opType == "MatMul" ? finder.constantMatrix(n.input(1))?.shape[1] : nil
      guard n.opType == "Conv" || matmulColumns != nil else { continue }
      var fusion = EpilogueFusion(absorbed: [], columnBias: nil, epilogue: .identity)
      var value = n.outputs[0]
      if let columns = matmulColumns, let (j, bias) = finder.columnBias(after: value, columns: columns) {
        fusion.columnBias = bias
        fusion.absorbed.append(j)
        value = graph.nodes[j].outputs[0]
      }
      if let j = finder.soleReader(value), graph.nodes[j].input(0) == value, let e = Epilogue.from(graph.nodes[j], in: graph) {
        fusion.epilogue = e
        fusion.absorbed.append(j)
        value = graph.nodes[j].outputs[0]
      } else if let (nodes, e) = finder.gelu(of: value) {
        fusion.epilogue = e
        fusion.absorbed += nodes
        value = graph.nodes[nodes.last!].outputs[0]
      }
      while let (j, step) = finder.scalarStep(after: value) {
        fusion.epilogue = fusion.epilogue.followed(by: step)
        fusion.absorbed.append(j)
        value = graph.nodes[j].outputs[0]
      }
      if !fusion.absorbed.isEmpty { result[i] = fusion }
    }
    return result
  }

  /// The graph's readers and constants, for the pattern matches.
  private struct Finder {
    let graph: Graph
    let uses: [String: Int]
    let graphOutputs: Set<String>
    let readers: [String: [Int]]

    init(_ graph: Graph) {
      self.graph = graph
      uses = graph.useCounts()
      graphOutputs = Set(graph.outputs.map(\.name))
      var readers: [String: [Int]] = [:]
      for (i, n) in graph.nodes.enumerated() {
        for input in Set(n.inputs) where !input.isEmpty { readers[input, default: []].append(i) }
      }
      self.readers = readers
    }

    /// The one node reading `value`, when it is read once and is no graph output.
    func soleReader(_ value: String) -> Int? {
      guard uses[value] == 1, !graphOutputs.contains(value), let r = readers[value], r.count == 1,
        graph.nodes[r[0]].outputs.count == 1
      else { return nil }
      return r[0]
    }

    func constantMatrix(_ name: String?) -> Tensor? {
      guard let name, let t = graph.initializers[name], t.dtype == .float32, t.rank == 2, t.count > 0 else { return nil }
      return t
    }

    /// The float32 constant of rank ≤ 1 that binary node `j` combines with `value`.
    func otherConstant(_ j: Int, of value: String) -> [Float]? {
      let n = graph.nodes[j]
      guard n.inputs.count == 2, n.inputs.filter({ $0 == value }).count == 1 else { return nil }
      let other = n.inputs[0] == value ? n.inputs[1] : n.inputs[0]
      guard let t = graph.initializers[other], t.dtype == .float32, t.rank <= 1 else { return nil }
      return t.asFloats()
    }

    func columnBias(after value: String, columns: Int) -> (Int, [Float])? {
      guard let j = soleReader(value), graph.nodes[j].opType == "Add", let b = otherConstant(j, of: value), b.count == columns,
        graph.initializers[graph.nodes[j].inputs.first { $0 != value }!]?.rank == 1
      else { return nil }
      return (j, b)
    }

    func scalarStep(after value: String) -> (Int, Epilogue.ScalarStep)? {
      guard let j = soleReader(value), let c = otherConstant(j, of: value), c.count == 1 else { return nil }
      switch graph.nodes[j].opType {
      case "Mul": return (j, .mul(c[0]))
      case "Add": return (j, .add(c[0]))
      default: return nil
      }
    }

    /// The five nodes of (y · (erf(y / d) + 1)) · h read from `y`: Div, Erf, Add 1, Mul y, Mul h.
    func gelu(of y: String) -> ([Int], Epilogue)? {
      guard uses[y] == 2, !graphOutputs.contains(y), let r = readers[y], r.count == 2 else { return nil }
      guard let div = r.first(where: { graph.nodes[$0].opType == "Div" }), graph.nodes[div].input(0) == y,
        let d = otherConstant(div, of: y), d.count == 1,
        let erf = soleReader(graph.nodes[div].outputs[0]), graph.nodes[erf].opType == "Erf",
        let add = soleReader(graph.nodes[erf].outputs[0]), graph.nodes[add].opType == "Add",
        otherConstant(add, of: graph.nodes[erf].outputs[0]) == [1],
        let mul = soleReader(graph.nodes[add].outputs[0]), graph.nodes[mul].opType == "Mul", r.contains(mul),
        Set(graph.nodes[mul].inputs) == [y, graph.nodes[add].outputs[0]],
        let last = soleReader(graph.nodes[mul].outputs[0]), graph.nodes[last].opType == "Mul",
        let h = otherConstant(last, of: graph.nodes[mul].outputs[0]), h.count == 1
      else { return nil }
      return ([div, erf, add, mul, last], .gelu(divisor: d[0], half: h[0]))
    }
  }
}
