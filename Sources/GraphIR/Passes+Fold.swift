import TensorCore

extension Graph {
  /// Evaluates every node whose inputs are all constant, and every `Shape`/`Size` node whose
  /// input shape is known, and stores the results as initializers.
  ///
  /// - Parameters:
  ///   - knownShapes: concrete shapes of values (from a shape pass over fixed input shapes).
  ///   - evaluate: runs one node on constant inputs (the reference runtime provides it).
  /// - Returns: how many nodes were folded.
  @discardableResult
  public mutating func foldConstants(knownShapes: [String: [Int]] = [:],
                                     evaluate: (Node, [Tensor]) throws -> [Tensor]) throws -> Int {
    var kept: [Node] = []
    var folded = 0
    let graphInputs = Set(inputs.map(\.name))
    for n in nodes {
      if n.opType == "Shape", let x = n.input(0), !graphInputs.contains(x) || knownShapes[x] != nil,
        let shape = initializers[x]?.shape ?? knownShapes[x] {
        let r = shape.count
        let start = Swift.min(Swift.max(n.int("start", default: 0) < 0 ? n.int("start", default: 0) + r : n.int("start", default: 0), 0), r)
        let endRaw = n.int("end") ?? r
        let end = Swift.min(Swift.max(endRaw < 0 ? endRaw + r : endRaw, start), r)
        let dims = shape[start..<end].map(Int64.init)
        initializers[n.outputs[0]] = Tensor(shape: [dims.count], ints: dims)
        folded += 1
        continue
      }
      if n.opType == "Size", let x = n.input(0), let shape = initializers[x]?.shape ?? knownShapes[x] {
        initializers[n.outputs[0]] = Tensor(shape: [], ints: [Int64(shape.reduce(1, *))])
        folded += 1
        continue
      }
      let present = n.inputs.filter { !$0.isEmpty }
      let foldable = !present.isEmpty && present.allSatisfy { initializers[$0] != nil }
        && !Graph.unfoldableOps.contains(n.opType)
      if foldable {
        let values = n.inputs.map { $0.isEmpty ? Tensor.zeros([0]) : initializers[$0]! }
        let outs = try evaluate(n, values)
        for (name, t) in zip(n.outputs, outs) where !name.isEmpty { initializers[name] = t }
        folded += 1
      } else {
        kept.append(n)
      }
    }
    nodes = kept
    return folded
  }

  /// Ops never folded: they are the layers whose weights later passes quantize, or random.
  static let unfoldableOps: Set<String> = [
    "Conv", "ConvTranspose", "Gemm", "MatMul", "RandomNormal", "RandomUniform", "RandomNormalLike",
    "RandomUniformLike", "Multinomial",
  ]
}
