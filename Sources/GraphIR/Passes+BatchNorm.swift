import TensorCore

extension Graph {
  /// Folds `BatchNormalization` into the `Conv` that feeds it when the Conv output has no other
  /// reader and all parameters are constant:
  ///
  ///     k = γ / sqrt(σ² + ε)     W'[o] = W[o] · k[o]     b'[o] = (b[o] − μ[o]) · k[o] + β[o]
  ///
  /// - Returns: how many BatchNormalization nodes were folded.
  @discardableResult
  public mutating func foldBatchNorms() -> Int {
    let uses = useCounts()
    let producer = producers()
    var removed = Set<Int>()
    var folded = 0
    for (bi, bn) in nodes.enumerated() where bn.opType == "BatchNormalization" {
      guard bn.outputs.dropFirst().allSatisfy({ $0.isEmpty }), let x = bn.input(0),
        let ci = producer[x], nodes[ci].opType == "Conv", uses[x] == 1,
        !outputs.contains(where: { $0.name == x }),
        let wName = nodes[ci].input(1), let w = initializers[wName], w.dtype == .float32,
        let gamma = bn.input(1).flatMap({ initializers[$0] }), let beta = bn.input(2).flatMap({ initializers[$0] }),
        let mean = bn.input(3).flatMap({ initializers[$0] }), let variance = bn.input(4).flatMap({ initializers[$0] })
      else { continue }
      let oc = w.shape[0]
      guard gamma.count == oc, beta.count == oc, mean.count == oc, variance.count == oc else { continue }
      let eps = bn.float("epsilon", default: 1e-5)
      let g = gamma.asFloats(), bt = beta.asFloats(), mu = mean.asFloats(), v = variance.asFloats()
      let k = (0..<oc).map { g[$0] / (v[$0] + eps).squareRoot() }
      let oldBias = convBias(ci, channels: oc)
      replaceConvParameters(ci, weightScale: k, bias: (0..<oc).map { (oldBias[$0] - mu[$0]) * k[$0] + bt[$0] },
        output: bn.outputs[0])
      removed.insert(bi)
      folded += 1
    }
    nodes = nodes.indices.filter { !removed.contains($0) }.map { nodes[$0] }
    if folded > 0 { eliminateDeadNodes() }
    return folded
  }
}

extension Graph {
  /// Folds a constant `Mul` or `Add` that alone reads a Conv output into the Conv:
  ///
  ///     Mul by s[o]:  W'[o] = W[o] · s[o],  b'[o] = b[o] · s[o]        Add d[o]:  b'[o] = b[o] + d[o]
  ///
  /// `s`/`d` may be a scalar or one value per output channel (shape [C,1,1] or [1,C,1,1]).
  /// PP-LCNet exports put such a learnable affine after most convolutions. Repeats until no
  /// pattern is left.
  /// - Returns: how many nodes were folded.
  @discardableResult
  public mutating func foldAffineIntoConv() -> Int {
    var total = 0
    while true {
      let uses = useCounts()
      let producer = producers()
      let graphOutputs = Set(outputs.map(\.name))
      var folded = -1
      for (ai, n) in nodes.enumerated() where (n.opType == "Mul" || n.opType == "Add") && n.inputs.count == 2 {
        for (xi, ci) in [(0, 1), (1, 0)] {
          guard let x = n.input(xi), let cName = n.input(ci), let c = initializers[cName], c.dtype == .float32,
            let pi = producer[x], nodes[pi].opType == "Conv", uses[x] == 1, !graphOutputs.contains(x),
            let wName = nodes[pi].input(1), let w = initializers[wName], w.dtype == .float32, w.rank >= 3
          else { continue }
          let oc = w.shape[0]
          let perChannel: [Float]
          if c.count == 1 {
            perChannel = [Float](repeating: c.floats[0], count: oc)
          } else if c.count == oc, c.rank <= w.rank, c.shape.filter({ $0 != 1 }) == [oc],
            c.shape.count - (c.shape.firstIndex(of: oc) ?? 0) == w.rank - 1 {
            perChannel = c.floats
          } else { continue }
          var bias = convBias(pi, channels: oc)
          if n.opType == "Mul" {
            for o in 0..<oc { bias[o] *= perChannel[o] }
          } else {
            for o in 0..<oc { bias[o] += perChannel[o] }
          }
          replaceConvParameters(pi, weightScale: n.opType == "Mul" ? perChannel : nil, bias: bias, output: n.outputs[0])
          folded = ai
          break
        }
        if folded >= 0 { break }
      }
      if folded < 0 { break }
      nodes.remove(at: folded)
      total += 1
    }
    if total > 0 { eliminateDeadNodes() }
    return total
  }
}

extension Graph {
  /// The bias of Conv `ci`, or zeros when it has none.
  func convBias(_ ci: Int, channels: Int) -> [Float] {
    nodes[ci].input(2).flatMap { initializers[$0]?.asFloats() } ?? [Float](repeating: 0, count: channels)
  }

  /// Rewrites Conv `ci` in place to write `output` with weight rows scaled by `weightScale[o]`
  /// (unchanged when nil) and bias `bias`. New initializers are named after `output`, so a weight
  /// shared with another node is never modified.
  mutating func replaceConvParameters(_ ci: Int, weightScale: [Float]?, bias: [Float], output: String) {
    var conv = nodes[ci]
    if let scale = weightScale, let wName = conv.input(1), let w = initializers[wName] {
      var wv = w.floats
      let per = wv.count / max(scale.count, 1)
      for o in 0..<scale.count { for j in 0..<per { wv[o * per + j] *= scale[o] } }
      let newW = output + "_weight_folded"
      initializers[newW] = Tensor(shape: w.shape, floats: wv)
      conv.inputs[1] = newW
    }
    let newB = output + "_bias_folded"
    initializers[newB] = Tensor(shape: [bias.count], floats: bias)
    conv.inputs = Array(conv.inputs.prefix(2)) + [newB]
    conv.outputs = [output]
    nodes[ci] = conv
  }
}
