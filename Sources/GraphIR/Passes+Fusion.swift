import TensorCore

extension Graph {
  /// Rewrites the decomposed hard-swish that paddle2onnx and older exporters write,
  ///
  ///     y = x · clip(x + 3, 0, 6) / 6      (Add → Clip → Mul → Div)
  ///
  /// into one `HardSwish` node (x · clamp(x/6 + 1/2, 0, 1), equal up to float rounding), so the
  /// runtime makes one pass over the activation instead of four. Each intermediate must have no
  /// other reader and every constant must match exactly.
  /// - Returns: how many patterns were fused.
  @discardableResult
  public mutating func fuseHardSwish() -> Int {
    let uses = useCounts()
    let graphOutputs = Set(outputs.map(\.name))
    var consumers: [String: [Int]] = [:]
    for (i, n) in nodes.enumerated() { for input in n.inputs where !input.isEmpty { consumers[input, default: []].append(i) } }
    func scalar(_ name: String?) -> Float? {
      guard let name, let t = initializers[name], t.count == 1, t.dtype.isFloatingPoint else { return nil }
      return t.floats[0]
    }
    func soleConsumer(_ value: String, _ op: String) -> Int? {
      guard uses[value] == 1, !graphOutputs.contains(value), let c = consumers[value]?.first, nodes[c].opType == op else { return nil }
      return c
    }
    var removed = Set<Int>()
    var fused = 0
    for (ai, add) in nodes.enumerated() where add.opType == "Add" && add.inputs.count == 2 {
      // Add(x, 3) or Add(3, x).
      let (x, three): (String, Float?) = scalar(add.inputs[1]) != nil ? (add.inputs[0], scalar(add.inputs[1]))
        : (add.inputs[1], scalar(add.inputs[0]))
      guard three == 3, initializers[x] == nil,
        let ci = soleConsumer(add.outputs[0], "Clip"), nodes[ci].inputs.first == add.outputs[0] else { continue }
      let clip = nodes[ci]
      let lo = clip.inputs.count > 1 ? scalar(clip.input(1)) : (clip.attributes["min"] != nil ? clip.float("min", default: 0) : nil)
      let hi = clip.inputs.count > 2 ? scalar(clip.input(2)) : (clip.attributes["max"] != nil ? clip.float("max", default: 0) : nil)
      guard lo == 0, hi == 6, let mi = soleConsumer(clip.outputs[0], "Mul"),
        Set(nodes[mi].inputs) == Set([x, clip.outputs[0]]),
        let di = soleConsumer(nodes[mi].outputs[0], "Div"), nodes[di].inputs.first == nodes[mi].outputs[0],
        scalar(nodes[di].input(1)) == 6
      else { continue }
      nodes[di] = Node(name: nodes[di].name + "_hardswish", opType: "HardSwish", inputs: [x], outputs: nodes[di].outputs)
      removed.formUnion([ai, ci, mi])
      fused += 1
    }
    nodes = nodes.indices.filter { !removed.contains($0) }.map { nodes[$0] }
    if fused > 0 { eliminateDeadNodes() }
    return fused
  }
}
