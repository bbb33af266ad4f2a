import Execution
import GraphIR
import TensorCore

/// Runs the FP32 model over calibration data and records, for every layer, the values its input
/// takes (in a `RangeObserver` per distinct input tensor).
public struct Calibrator {
  public let session: Session
  /// Layer name → the tensor it reads.
  public let layerInputs: [String: String]
  /// Activation product (MatMul of two activations) name → the tensors it multiplies.
  public let productInputs: [String: (left: String, right: String)]
  public private(set) var observers: [String: RangeObserver] = [:]
  /// Input Gram matrices per layer (collected when `observe(…, grams: true)`), for AdaRound.
  public private(set) var grams: [String: GramCollector] = [:]
  /// Columns sampled per layer and batch for the Gram matrices, and the most kept per layer.
  public var gramSamplesPerBatch = 256, gramColumnLimit = 4096

  /// - Parameter layers: names of the layers to calibrate (default: all quantizable ones).
  /// - Parameter products: also observe both inputs of every activation product.
  public init(session: Session, layers: [String]? = nil, products: Bool = false) {
    self.session = session
    let g = session.graph
    var inputs: [String: String] = [:]
    // Tables are weight-only: their input is indices, with no range to observe.
    for l in g.layers where !l.isTable && layers?.contains(l.name) ?? true {
      if let x = g.nodes[l.nodeIndex].input(0) { inputs[l.name] = x }
    }
    layerInputs = inputs
    productInputs = products ? Dictionary(g.activationProducts.map { ($0.name, ($0.left, $0.right)) }, uniquingKeysWith: { a, _ in a }) : [:]
  }

  /// Streams `feeds` (batch on axis 0) through the model in batches of `batch`.
  public mutating func observe(_ feeds: [String: Tensor], batch: Int = 32, grams collectGrams: Bool = false) throws {
    let watched = Set(layerInputs.values).union(productInputs.values.flatMap { [$0.left, $0.right] })
    let g = session.graph
    var readers: [String: [String]] = [:]
    for (layer, input) in layerInputs { readers[input, default: []].append(layer) }
    var grams = self.grams
    if collectGrams {
      for l in g.layers where layerInputs[l.name] != nil && grams[l.name] == nil {
        grams[l.name] = GramCollector(node: g.nodes[l.nodeIndex], weightShape: l.weightShape, seed: UInt64(l.nodeIndex + 1))
      }
    }
    let limit = gramColumnLimit, perBatch = gramSamplesPerBatch
    func gram(_ name: String, _ t: Tensor) throws {
      guard collectGrams else { return }
      for layer in readers[name] ?? [] where (grams[layer]?.columns ?? limit) < limit {
        try grams[layer]!.observe(t, samples: min(perBatch, limit - grams[layer]!.columns))
      }
    }
    let total = feeds.values.first?.shape.first ?? 0
    var local = observers
    for start in stride(from: 0, to: total, by: batch) {
      let part = feeds.mapValues { $0.rows(start..<min(start + batch, total)) }
      for (name, t) in part where watched.contains(name) {
        if case .float(let v) = t.storage { local[name, default: RangeObserver()].observe(v) }
        try gram(name, t)
      }
      var failure: Error?
      _ = try session.run(part) { node, outputs in
        for (i, name) in node.outputs.enumerated() where watched.contains(name) && i < outputs.count {
          if case .float(let v) = outputs[i].storage { local[name, default: RangeObserver()].observe(v) }
          do { try gram(name, outputs[i]) } catch { failure = error }
        }
      }
      if let failure { throw failure }
    }
    observers = local
    self.grams = grams
  }

  /// The observer of layer `name`'s input.
  public func observer(forLayer name: String) -> RangeObserver? { layerInputs[name].flatMap { observers[$0] } }

  /// The observers of activation product `name`'s two inputs.
  public func observers(forProduct name: String) -> (left: RangeObserver, right: RangeObserver)? {
    guard let p = productInputs[name], let l = observers[p.left], let r = observers[p.right] else { return nil }
    return (l, r)
  }
}
