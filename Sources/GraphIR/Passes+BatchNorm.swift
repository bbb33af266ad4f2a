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
      var wv = w.floats
      let per = wv.count / max(oc, 1)
      for o in 0..<oc { for j in 0..<per { wv[o * per + j] *= k[o] } }
      let oldBias = nodes[ci].input(2).flatMap { initializers[$0]?.asFloats() } ?? [Float](repeating: 0, count: oc)
      let bias = (0..<oc).map { (oldBias[$0] - mu[$0]) * k[$0] + bt[$0] }
      let newW = wName + "_bnfolded", newB = bn.outputs[0] + "_bias_bnfolded"
      initializers[newW] = Tensor(shape: w.shape, floats: wv)
      initializers[newB] = Tensor(shape: [oc], floats: bias)
      var conv = nodes[ci]
      conv.inputs = [conv.inputs[0], newW, newB]
      conv.outputs = [bn.outputs[0]]
      nodes[ci] = conv
      removed.insert(bi)
      folded += 1
    }
    nodes = nodes.indices.filter { !removed.contains($0) }.map { nodes[$0] }
    if folded > 0 { eliminateDeadNodes() }
    return folded
  }
}
