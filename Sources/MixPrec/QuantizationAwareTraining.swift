import Execution
import Foundation
import Gradients
import GraphIR
import Quantizers
import TensorCore

/// Quantization-aware fine-tuning of a plan's integer layers, distilled from the FP32 model:
///
/// - weights: a latent u per weight in units of its (fixed) quantization step s; the forward pass
///   uses s·clamp(round(u), −q_max, q_max), the gradient passes straight through (masked where u
///   is clipped); starts from the plan's codes (AdaRound's when given);
/// - activations: a FakeQuantize node before every integer layer with a learnable two-sided clip
///   [lo, hi] (PACT), starting from the calibrated range, with its own learning rate;
/// - loss: KL from the FP32 model's output distribution (no labels); SGD with momentum 0.9 for
///   both groups, each step normalized so that the group's largest update is `weightRate`
///   quantization steps (`clipRate` of the range for the bounds) times a cosine schedule over all
///   steps: relative sizes follow the gradients, the largest move is bounded whatever their scale. (Adam, tried first, turns the tiny, noisy gradients of an already good AdaRound start
///   into full-size steps for every weight at once: the loss rose 20x in two epochs on the
///   classifier.)
///
/// FP16 layers run with half-rounded weights and are not trained. Bias corrections of the plan are
/// part of the trained model (added to the biases) and stay in the result. The result is the plan with
/// the learned input ranges and codes (rounding `qat`), for the runtime and the QDQ export.
public final class QuantizationAwareTraining {
  public struct Options: Sendable {
    public var epochs = 2
    public var batch = 16
    /// Largest first update of a latent weight, in quantization steps.
    public var weightRate: Float = 0.05
    /// Largest first update of a clip bound, as a fraction of its initial range.
    public var clipRate: Float = 0.01
    public var seed: UInt64 = 0
    public init() {}
  }

  struct Layer {
    var name: String
    var weight: String
    var bits: Int
    var layout: WeightLayout
    var rowsFirst: Bool
    var shape: [Int]
    var scales: [Float]
    var group: Int?
    var latent: [Float]
    var lo: Float, hi: Float
    var range: Float
    /// The plan's bias correction, trained with: added to the bias, or an Add after a bias-less layer.
    var biasShift: [Float]?
    var bias: String?
  }

  let session: Session
  var plan: PrecisionPlan
  var layers: [Layer] = []
  /// Fixed replacements: FP16 layers' weights rounded to half, biases plus their correction.
  var fixedValues: [String: Tensor] = [:]

  public init(session: Session, plan: PrecisionPlan, codes: [String: [Int8]] = [:]) throws {
    self.session = session
    self.plan = plan
    let g = session.graph
    let runtime = try PlanBuilder.layerQuantizations(plan, session: session, codes: codes)
    for l in g.layers {
      let node = g.nodes[l.nodeIndex]
      switch runtime[l.name] {
      case .integer(let bits, let values, let scales, let group, let input, let shift)?:
        let layout = WeightLayout(node, weight: l.weightShape)
        let lo = -Float(input.zero) * input.scale, hi = Float(255 - Int(input.zero)) * input.scale
        let bias = node.input(2).flatMap { g.initializers[$0] != nil ? $0 : nil }
        layers.append(Layer(name: l.name, weight: l.weightName, bits: bits, layout: layout, rowsFirst: layout.rowsFirst, shape: l.weightShape,
          scales: scales, group: group, latent: values.map(Float.init), lo: lo, hi: hi, range: max(hi - lo, 1e-12),
          biasShift: shift, bias: bias))
      case .half?:
        if let w = g.initializers[l.weightName] { fixedValues[l.weightName] = Tensor(shape: w.shape, floats: w.floats.map { Float(Float16($0)) }) }
      default:
        continue
      }
    }
    for l in layers {
      guard let shift = l.biasShift, let b = l.bias, let t = g.initializers[b], t.count == shift.count else { continue }
      fixedValues[b] = Tensor(shape: t.shape, floats: zip(t.floats, shift).map { $0 + $1 })
    }
  }

  /// s·clamp(round(u)) in the weight tensor's own layout.
  func quantizedWeight(_ l: Layer) -> Tensor {
    let n = l.layout.rows, k = l.layout.depth
    let qmax = Float(WeightQuantizer.maxCode(bits: l.bits))
    let g = l.group ?? k, groups = (k + g - 1) / g
    var rows = [Float](repeating: 0, count: n * k)
    for i in 0..<(n * k) {
      rows[i] = l.scales[(i / k) * groups + (i % k) / g] * min(max(l.latent[i].rounded(), -qmax), qmax)
    }
    if l.rowsFirst { return Tensor(shape: l.shape, floats: rows) }
    // Stored [k, n]: transpose back.
    var t = [Float](repeating: 0, count: n * k)
    for r in 0..<n { for c in 0..<k { t[c * n + r] = rows[r * k + c] } }
    return Tensor(shape: l.shape, floats: t)
  }

  /// The cotangent of the weight tensor in rows-major order.
  func rowsMajor(_ l: Layer, _ g: [Float]) -> [Float] {
    if l.rowsFirst { return g }
    let n = l.layout.rows, k = l.layout.depth
    var r = [Float](repeating: 0, count: n * k)
    for c in 0..<k { for o in 0..<n { r[o * k + c] = g[c * n + o] } }
    return r
  }

  static func loName(_ l: Layer) -> String { "__qat_lo_" + l.name }
  static func hiName(_ l: Layer) -> String { "__qat_hi_" + l.name }

  /// The specialized graph with a FakeQuantize node before every integer layer's input.
  func trainingGraph(_ g: Graph) -> Graph {
    var out = g
    let byName = Dictionary(uniqueKeysWithValues: layers.map { ($0.name, $0) })
    var nodes: [Node] = []
    for var n in g.nodes {
      guard let l = byName[n.name], let x = n.input(0) else { nodes.append(n); continue }
      let y = x + "__fq_" + n.name
      nodes.append(TrainingOps.fakeQuantNode(name: "fq_" + n.name, input: x, lo: Self.loName(l), hi: Self.hiName(l), output: y))
      n.inputs[0] = y
      // A bias correction on a layer without a bias input (MatMul) is an Add after it, as the
      // runtime and the export apply it.
      if l.biasShift != nil, l.bias == nil, n.outputs.count == 1 {
        let out = n.outputs[0], pre = out + "__pre_shift"
        n.outputs[0] = pre
        nodes.append(n)
        nodes.append(Node(name: "shift_" + n.name, opType: "Add", inputs: [pre, "__qat_shift_" + l.name], outputs: [out], attributes: [:]))
        continue
      }
      nodes.append(n)
    }
    out.nodes = nodes
    for l in layers {
      out.initializers[Self.loName(l)] = Tensor(shape: [1], floats: [l.lo])
      out.initializers[Self.hiName(l)] = Tensor(shape: [1], floats: [l.hi])
      if let shift = l.biasShift, l.bias == nil { out.initializers["__qat_shift_" + l.name] = Tensor(shape: [shift.count], floats: shift) }
    }
    return out
  }

  /// The FP32 graph, its training twin and the logits' name for mini-batches of `batch`.
  func graphs(_ feeds: [String: Tensor], batch: Int) throws -> (fp32: ReverseGraph, training: ReverseGraph, logits: String) {
    let fp32 = try ReverseGraph(graph: session.specializedGraph(for: feeds.mapValues { [batch] + $0.shape.dropFirst() }))
    let logits = CurvatureModel.logits(of: fp32.graph, output: session.graph.outputs[0].name)
    return (fp32, try ReverseGraph(graph: trainingGraph(fp32.graph)), logits)
  }

  /// The current weights and clip bounds as replacements of the training graph's initializers.
  func overrides() -> [String: Tensor] {
    var o = fixedValues
    for l in layers {
      o[l.weight] = quantizedWeight(l)
      o[Self.loName(l)] = Tensor(shape: [1], floats: [l.lo])
      o[Self.hiName(l)] = Tensor(shape: [1], floats: [l.hi])
    }
    return o
  }

  /// SGD momentum buffers: v = μ·v + g.
  struct Momentum {
    var v: [Float]
    init(_ n: Int) { v = [Float](repeating: 0, count: n) }
    mutating func accumulate(_ g: [Float]) { for i in 0..<v.count { v[i] = 0.9 * v[i] + g[i] } }
    var largest: Float { v.reduce(0) { max($0, abs($1)) } }
    func apply(_ x: inout [Float], rate: Float) { for i in 0..<x.count { x[i] -= rate * v[i] } }
  }

  /// Trains on `feeds` (the batch on axis 0; the last partial mini-batch is dropped).
  /// `progress(step, steps, loss)` after each step. Returns the plan, the codes and the mean loss
  /// of each epoch.
  public func train(_ feeds: [String: Tensor], options o: Options,
                    progress: (Int, Int, Double) -> Void = { _, _, _ in }) throws -> (plan: PrecisionPlan, codes: [String: [Int8]], epochLoss: [Double]) {
    let total = feeds.values.first?.shape.first ?? 0
    let batch = max(1, min(o.batch, total))
    let perEpoch = total / batch
    guard perEpoch > 0, !layers.isEmpty else { return (plan, codes(), []) }
    let (fp32, training, logits) = try graphs(feeds, batch: batch)
    // FP32 distributions of every mini-batch (fixed order of slices; epochs shuffle the order).
    var references: [[Float]] = []
    var rowLength = 1
    for b in 0..<perEpoch {
      let x = feeds.mapValues { $0.rows((b * batch)..<((b + 1) * batch)) }
      let z = try fp32.forward(x, until: logits)[logits]!
      rowLength = z.shape.last ?? 1
      references.append(DistillationLoss.softmax(z.floats, rowLength: rowLength))
    }
    let steps = o.epochs * perEpoch
    var weightMomentum = layers.map { Momentum($0.latent.count) }
    var clipMomentum = layers.map { _ in Momentum(2) }
    var rng = SeededGenerator(seed: o.seed)
    var epochLoss: [Double] = []
    let params = Set(layers.map(\.weight) + layers.flatMap { [Self.loName($0), Self.hiName($0)] })
    var step = 0
    for _ in 0..<o.epochs {
      var order = Array(0..<perEpoch)
      order.shuffle(using: &rng)
      var sum = 0.0
      for b in order {
        let cosine = Float(0.5 * (1 + cos(Double.pi * Double(step) / Double(max(steps, 1)))))
        let x = feeds.mapValues { $0.rows((b * batch)..<((b + 1) * batch)) }
        let trace = try training.forward(x, overrides: overrides(), until: logits)
        let loss = DistillationLoss(rowLength: rowLength, rows: references[b].count / rowLength)
        let (value, seed) = loss.value(logits: trace[logits]!.floats, reference: references[b])
        let grads = try training.backward(trace, seeds: [logits: seed], parameters: params)
        // Straight through the rounding, into quantization-step units: du = dW · s; the clip
        // bounds' gradients relative to their ranges.
        var gus: [[Float]] = [], gbs: [[Float]] = []
        for l in layers {
          let gw = rowsMajor(l, grads[l.weight]!)
          let k = l.layout.depth, g = l.group ?? k, groups = (k + g - 1) / g
          let qmax = Float(WeightQuantizer.maxCode(bits: l.bits)) + 0.5
          var gu = [Float](repeating: 0, count: gw.count)
          for j in 0..<gw.count where abs(l.latent[j]) <= qmax { gu[j] = gw[j] * l.scales[(j / k) * groups + (j % k) / g] }
          gus.append(gu)
          // dL/d(bound / range) = dL/dbound · range.
          gbs.append([(grads[Self.loName(l)]?.first ?? 0) * l.range, (grads[Self.hiName(l)]?.first ?? 0) * l.range])
        }
        for i in layers.indices {
          weightMomentum[i].accumulate(gus[i])
          clipMomentum[i].accumulate(gbs[i])
        }
        let wmax = weightMomentum.reduce(0) { max($0, $1.largest) }, cmax = clipMomentum.reduce(0) { max($0, $1.largest) }
        for (i, l) in layers.enumerated() {
          if wmax > 0 { weightMomentum[i].apply(&layers[i].latent, rate: o.weightRate * cosine / wmax) }
          // Bounds move in units of their range: x = bound / range.
          var bounds = [l.lo / l.range, l.hi / l.range]
          if cmax > 0 { clipMomentum[i].apply(&bounds, rate: o.clipRate * cosine / cmax) }
          // The range keeps 0 (a zero point exists) and a positive width.
          layers[i].lo = min(bounds[0] * l.range, 0)
          layers[i].hi = max(bounds[1] * l.range, layers[i].lo + 1e-6 * l.range, 0)
        }
        sum += value
        step += 1
        progress(step, steps, value)
      }
      epochLoss.append(sum / Double(perEpoch))
    }
    var result = plan
    for l in layers {
      guard let i = result.layers.firstIndex(where: { $0.name == l.name }) else { continue }
      result.layers[i].input = ActivationParameters.covering(lo: l.lo, hi: l.hi, scheme: .asymmetric)
      result.layers[i].rounding = .qat
      // Trained with the correction (in the bias, or an Add after the layer): kept.
      result.layers[i].biasShift = l.biasShift
    }
    return (result, codes(), epochLoss)
  }

  /// The learned integer codes (rows-major), by layer.
  func codes() -> [String: [Int8]] {
    Dictionary(uniqueKeysWithValues: layers.map { l in
      let qmax = Float(WeightQuantizer.maxCode(bits: l.bits))
      return (l.name, l.latent.map { Int8(min(max($0.rounded(), -qmax), qmax)) })
    })
  }

  /// The distillation loss of the current state on `feeds` (one pass, mini-batches of `batch`).
  public func loss(_ feeds: [String: Tensor], batch: Int) throws -> Double {
    let total = feeds.values.first?.shape.first ?? 0
    let b = max(1, min(batch, total))
    let (fp32, training, logits) = try graphs(feeds, batch: b)
    let overrides = overrides()
    var sum = 0.0
    for k in 0..<(total / b) {
      let x = feeds.mapValues { $0.rows((k * b)..<((k + 1) * b)) }
      let z = try fp32.forward(x, until: logits)[logits]!
      let p = DistillationLoss.softmax(z.floats, rowLength: z.shape.last ?? 1)
      let q = try training.forward(x, overrides: overrides, until: logits)[logits]!
      sum += DistillationLoss(rowLength: z.shape.last ?? 1, rows: p.count / max(z.shape.last ?? 1, 1)).value(logits: q.floats, reference: p).loss
    }
    return sum / Double(max(total / b, 1))
  }
}
