import Execution
import Kernels
import GraphIR
import TensorCore

/// Accumulates A = Σ x xᵀ over a sample of a layer's input columns (im2col columns for a Conv,
/// rows for MatMul/Gemm), one k × k matrix per convolution group: the quadratic form of the
/// layer's reconstruction error that AdaRound minimizes.
public struct GramCollector {
  public let node: Node
  public let k: Int, groups: Int
  public private(set) var grams: [[Float]]
  /// Σ x over the sampled columns, per group (k each): the input means bias correction needs.
  public private(set) var sums: [[Double]]
  /// The first `keptLimit` sampled columns of group 0, column after column (k each): the inputs
  /// EasyQuant and PACT clipping evaluate the layer on.
  public private(set) var kept: [Float] = []
  public static let keptLimit = 512
  public private(set) var columns = 0
  let weightShape: [Int]
  var rng: SeededGenerator

  public init(node: Node, weightShape: [Int], seed: UInt64) {
    self.node = node
    self.weightShape = weightShape
    rng = SeededGenerator(seed: seed)
    if node.opType == "Conv" {
      groups = node.int("group", default: 1)
      k = weightShape.dropFirst().reduce(1, *)
    } else {
      groups = 1
      k = WeightLayout(node, weight: weightShape).depth
    }
    grams = [[Float]](repeating: [Float](repeating: 0, count: k * k), count: groups)
    sums = [[Double]](repeating: [Double](repeating: 0, count: k), count: groups)
  }

  /// Mean of each of the k inputs of group `g` over the sampled columns.
  public func means(group g: Int) -> [Float] {
    sums[g].map { Float($0 / Double(max(columns, 1))) }
  }

  /// Adds up to `samples` columns of input `x` (one batch).
  public mutating func observe(_ x: Tensor, samples: Int) throws {
    guard case .float(let v) = x.storage else { return }
    if node.opType != "Conv" {
      let rows = x.count / k
      let picked = (0..<min(samples, rows)).map { _ in Int(rng.next() % UInt64(rows)) }
      var xs = [Float](repeating: 0, count: picked.count * k)
      for (j, r) in picked.enumerated() { for c in 0..<k { xs[j * k + c] = v[r * k + c] } }
      accumulate(0, xs, count: picked.count)
      columns += picked.count
      return
    }
    let geo = try ConvWindow(node: node, input: x.shape, weight: weightShape)
    let images = x.shape[0], cin = x.shape[1], cinG = cin / groups
    let plane = geo.outH * geo.outW
    let picked = (0..<min(samples, images * plane)).map { _ in Int(rng.next() % UInt64(images * plane)) }
    for gi in 0..<groups {
      var xs = [Float](repeating: 0, count: picked.count * k)
      for (j, sample) in picked.enumerated() {
        let img = sample / plane, p = sample % plane, oh = p / geo.outW, ow = p % geo.outW
        var row = 0
        for c in 0..<cinG {
          let base = (img * cin + gi * cinG + c) * geo.inH * geo.inW
          for i in 0..<geo.kH {
            let ih = oh * geo.strideH - geo.padTop + i * geo.dilH
            for t in 0..<geo.kW {
              let iw = ow * geo.strideW - geo.padLeft + t * geo.dilW
              xs[j * k + row] = ih >= 0 && ih < geo.inH && iw >= 0 && iw < geo.inW ? v[base + ih * geo.inW + iw] : 0
              row += 1
            }
          }
        }
      }
      accumulate(gi, xs, count: picked.count)
    }
    columns += picked.count
  }

  /// A += Xsᵀ Xs for Xs = samples × k.
  mutating func accumulate(_ g: Int, _ xs: [Float], count: Int) {
    guard count > 0 else { return }
    for j in 0..<count { for c in 0..<k { sums[g][c] += Double(xs[j * k + c]) } }
    if g == 0 {
      let room = Self.keptLimit - kept.count / k
      if room > 0 { kept += xs[0..<(min(room, count) * k)] }
    }
    xs.withUnsafeBufferPointer { x in
      grams[g].withUnsafeMutableBufferPointer { a in
        FloatGEMM.sgemm(transA: true, m: k, n: k, k: count, a: x.baseAddress!, lda: k, b: x.baseAddress!, ldb: k, beta: 1,
          c: a.baseAddress!, ldc: k)
      }
    }
  }
}
