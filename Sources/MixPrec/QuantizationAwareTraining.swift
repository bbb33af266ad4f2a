import Execution
import Foundation
import Gradients
import GraphIR
import Quantizers
import Sensitivity
import TensorCore

/// Quantization-aware fine-tuning of a plan's integer layers (distilled from the FP32 model, or on labels).
///
/// Trained, per integer layer:
/// - the weight codes: a latent u per weight in units of its quantization step; the forward pass
///   uses s·clamp(round(u), −q_max, q_max), the gradient passes straight through (masked where u
///   is clipped); u starts at the plan's code (AdaRound's when given) plus the FP32 weight's offset
///   from it, at most 0.45 steps, so the weights nearest a rounding boundary flip first;
/// - the per-channel weight scales s (learnable, as in LSQ; codes fixed, this is smooth);
/// - the bias (the plan's bias correction is its start; the result is the new correction);
/// - the input's two-sided clip [lo, hi] (PACT) of a FakeQuantize node before the layer.
///
/// Loss: KL from the FP32 model's output distribution (no labels), the labels' cross-entropy or
/// CTC loss, or both (`Options.loss`). Scales, biases and clip bounds
/// use Adam (scales and bounds in log units, biases in units of the layer's bias magnitude); the
/// latent codes use SGD with momentum, normalized so the largest update is `weightRate` steps
/// (Adam's per-weight normalization makes every weight move a full rate at once and flips far
/// too many codes). All rates follow one cosine schedule. FP16 layers run with half-rounded
/// weights and are not trained. The result is the plan with the learned input ranges, scale
/// factors, bias corrections and codes (rounding `qat`), for the runtime and the QDQ export.
public final class QuantizationAwareTraining {
  public struct Options: Sendable {
    public var epochs = 2
    public var batch = 8
    /// Largest update of a latent weight per step, in quantization steps (0: codes fixed).
    public var weightRate: Float = 0.01
    /// Adam step of log(weight scale).
    public var scaleRate: Float = 1e-3
    /// Adam step of the biases, relative to the layer's bias magnitude.
    public var biasRate: Float = 1e-3
    /// Adam step of log|clip bound| (0: ranges fixed).
    public var clipRate: Float = 1e-3
    /// What the training minimizes: KL to FP32 (no labels), the task loss on the labels
    /// (cross-entropy, CTC), or their sum.
    public var loss: Loss = .distillation
    public var seed: UInt64 = 0
    public init() {}
  }

  struct Layer {
    var name: String
    var weight: String
    var bits: Int
    var layout: WeightLayout
    var shape: [Int]
    /// Current scales (per row, or per row and group) and those the plan's factors multiply.
    var scales: [Float]
    var baseScales: [Float]
    var group: Int?
    var latent: [Float]
    var lo: Float, hi: Float
    /// The trained bias: the layer's own bias initializer (plus correction), or a shift added
    /// after it (a bias-less layer); `original` is the model's bias.
    var bias: [Float]
    var original: [Float]
    var biasName: String?
    var biasUnit: Float
  }

  let session: Session
  var plan: PrecisionPlan
  var layers: [Layer] = []
  /// Fixed replacements: FP16 layers' weights rounded to half, tables' dequantized codes.
  var fixedValues: [String: Tensor] = [:]

  public init(session: Session, plan: PrecisionPlan, codes: [String: [Int8]] = [:]) throws {
    self.session = session
    self.plan = plan
    let g = session.graph
    let runtime = try PlanBuilder.layerQuantizations(plan, session: session, codes: codes)
    for l in g.layers {
      let node = g.nodes[l.nodeIndex]
      switch runtime[l.name] {
      case .integer(let bits, let values, let scales, let group, let input, let shift, let dynamic)?:
        guard !dynamic else {
          throw MixPrecError.invalidOption(option: "--qat", rule: "trains each integer layer's input clip; layer '\(l.name)' takes its input range from each batch (dynamic)")
        }
        let layout = WeightLayout(node, weight: l.weightShape)
        let lo = -Float(input.zero) * input.scale, hi = Float(255 - Int(input.zero)) * input.scale
        let biasName = node.input(2).flatMap { g.initializers[$0] != nil ? $0 : nil }
        let original = biasName.flatMap { g.initializers[$0]?.floats } ?? [Float](repeating: 0, count: layout.rows)
        let bias = shift.map { zip(original, $0).map { $0 + $1 } } ?? original
        let rms = (bias.reduce(0) { $0 + $1 * $1 } / Float(max(bias.count, 1))).squareRoot()
        let factors = plan.layer(l.name)?.weightScaleFactors
        let base = factors.map { f in scales.enumerated().map { f[$0.offset % f.count] > 0 ? $0.element / f[$0.offset % f.count] : $0.element } } ?? scales
        var latent = values.map(Float.init)
        if let w = g.initializers[l.weightName] {
          let rows = layout.rowsMajor(w.floats), k = layout.depth, gs = group ?? k, groups = (k + gs - 1) / gs
          for j in latent.indices {
            let s = scales[(j / k) * groups + (j % k) / gs]
            if s > 0 { latent[j] += min(max(rows[j] / s - latent[j], -0.45), 0.45) }
          }
        }
        layers.append(Layer(name: l.name, weight: l.weightName, bits: bits, layout: layout, shape: l.weightShape,
          scales: scales, baseScales: base, group: group, latent: latent, lo: lo, hi: hi,
          bias: bias, original: original, biasName: biasName, biasUnit: max(rms, 1e-3)))
      case .half?:
        if let w = g.initializers[l.weightName] { fixedValues[l.weightName] = Tensor(shape: w.shape, floats: w.floats.map { Float(Float16($0)) }) }
      case .table(_, let values, let scales, let group)?:
        // A table's codes are not trained (its rows are looked up, not multiplied): fixed at nearest.
        let layout = WeightLayout(node, weight: l.weightShape)
        fixedValues[l.weightName] = Tensor(shape: l.weightShape,
          floats: WeightQuantizer.dequantize(values, scales: scales, n: layout.rows, k: layout.depth, group: group))
      default:
        continue
      }
    }
  }

  /// Index of the scale of rows-major element j.
  @inline(__always) func scaleIndex(_ l: Layer, _ j: Int) -> Int {
    let k = l.layout.depth, g = l.group ?? k
    return (j / k) * ((k + g - 1) / g) + (j % k) / g
  }

  /// The integer codes clamp(round(u)) as floats, rows-major.
  func codeValues(_ l: Layer) -> [Float] {
    let qmax = Float(WeightQuantizer.maxCode(bits: l.bits))
    return l.latent.map { min(max($0.rounded(), -qmax), qmax) }
  }

  /// s·clamp(round(u)) in the weight tensor's own layout.
  func quantizedWeight(_ l: Layer) -> Tensor {
    let q = codeValues(l)
    let rows = q.indices.map { l.scales[scaleIndex(l, $0)] * q[$0] }
    if l.layout.rowsFirst { return Tensor(shape: l.shape, floats: rows) }
    // Stored [k, n]: transpose back.
    let n = l.layout.rows, k = l.layout.depth
    var t = [Float](repeating: 0, count: n * k)
    for r in 0..<n { for c in 0..<k { t[c * n + r] = rows[r * k + c] } }
    return Tensor(shape: l.shape, floats: t)
  }

  static func loName(_ l: Layer) -> String { "__qat_lo_" + l.name }
  static func hiName(_ l: Layer) -> String { "__qat_hi_" + l.name }
  /// The trained bias's value name: the layer's bias initializer, or the added shift.
  static func biasValue(_ l: Layer) -> String { l.biasName ?? "__qat_bias_" + l.name }

  /// The specialized graph with a FakeQuantize node before every integer layer's input and a bias
  /// on every integer layer (an input of a bias-less Conv or Gemm, an Add after a MatMul, as the
  /// runtime and the export apply the correction).
  func trainingGraph(_ g: Graph) -> Graph {
    var out = g
    let byName = Dictionary(uniqueKeysWithValues: layers.map { ($0.name, $0) })
    var nodes: [Node] = []
    for var n in g.nodes {
      guard let l = byName[n.name], let x = n.input(0) else { nodes.append(n); continue }
      let y = x + "__fq_" + n.name
      nodes.append(TrainingOps.fakeQuantNode(name: "fq_" + n.name, input: x, lo: Self.loName(l), hi: Self.hiName(l), output: y))
      n.inputs[0] = y
      if l.biasName == nil {
        if n.opType == "MatMul", n.outputs.count == 1 {
          let out = n.outputs[0], pre = out + "__pre_bias"
          n.outputs[0] = pre
          nodes.append(n)
          nodes.append(Node(name: "bias_" + n.name, opType: "Add", inputs: [pre, Self.biasValue(l)], outputs: [out], attributes: [:]))
          continue
        }
        while n.inputs.count < 2 { n.inputs.append("") }
        if n.inputs.count == 2 { n.inputs.append(Self.biasValue(l)) } else { n.inputs[2] = Self.biasValue(l) }
      }
      nodes.append(n)
    }
    out.nodes = nodes
    for l in layers {
      out.initializers[Self.loName(l)] = Tensor(shape: [1], floats: [l.lo])
      out.initializers[Self.hiName(l)] = Tensor(shape: [1], floats: [l.hi])
      out.initializers[Self.biasValue(l)] = Tensor(shape: [l.bias.count], floats: l.bias)
    }
    return out
  }

  /// The FP32 graph, its training twin and the logits' name for mini-batches of `batch`.
  func graphs(_ feeds: [String: Tensor], batch: Int) throws -> (fp32: ReverseGraph, training: ReverseGraph, logits: String) {
    let fp32 = try ReverseGraph(graph: session.specializedGraph(for: feeds.mapValues { [batch] + $0.shape.dropFirst() }))
    let logits = CurvatureModel.logits(of: fp32.graph, output: session.graph.comparedOutput?.name ?? "")
    return (fp32, try ReverseGraph(graph: trainingGraph(fp32.graph)), logits)
  }

  /// The current weights, biases and clip bounds as replacements of the training graph's initializers.
  func overrides() -> [String: Tensor] {
    var o = fixedValues
    for l in layers {
      o[l.weight] = quantizedWeight(l)
      o[Self.biasValue(l)] = Tensor(shape: [l.bias.count], floats: l.bias)
      o[Self.loName(l)] = Tensor(shape: [1], floats: [l.lo])
      o[Self.hiName(l)] = Tensor(shape: [1], floats: [l.hi])
    }
    return o
  }

  /// Trains on `feeds` (the batch on axis 0; the last partial mini-batch is dropped).
  /// `progress(step, steps, loss)` after each step. Returns the plan, the codes and the mean loss
  /// of each epoch.
  public func train(_ feeds: [String: Tensor], labels taskLabels: TaskLabels? = nil, options o: Options,
                    progress: (Int, Int, Double) -> Void = { _, _, _ in }) throws -> (plan: PrecisionPlan, codes: [String: [Int8]], epochLoss: [Double]) {
    let total = feeds.values.first?.shape.first ?? 0
    let labels = taskLabels.flatMap(Labels.init)
    if o.loss != .distillation {
      guard let labels, labels.count >= total else { throw PlanError("the QAT loss '\(o.loss.rawValue)' needs a label for every training sample") }
    }
    let batch = max(1, min(o.batch, total))
    let perEpoch = total / batch
    guard perEpoch > 0, !layers.isEmpty else { return (result(), codes(), []) }
    let (fp32, training, logits) = try graphs(feeds, batch: batch)
    // FP32 distributions of every mini-batch (fixed slices; epochs shuffle their order).
    var references: [[Float]] = []
    var rowLength = 1
    for b in 0..<perEpoch {
      let x = feeds.mapValues { $0.rows((b * batch)..<((b + 1) * batch)) }
      let z = try fp32.forward(x, until: logits)[logits]!
      rowLength = z.shape.last ?? 1
      references.append(DistillationLoss.softmax(z.floats, rowLength: rowLength))
    }
    let steps = o.epochs * perEpoch
    var momentum = layers.map { Momentum($0.latent.count) }
    var scaleAdam = layers.map { Adam($0.scales.count) }, biasAdam = layers.map { Adam($0.bias.count) }, clipAdam = layers.map { _ in Adam(2) }
    var rng = SeededGenerator(seed: o.seed)
    var epochLoss: [Double] = []
    var params = Set(layers.flatMap { [$0.weight, Self.biasValue($0)] })
    if o.clipRate > 0 { params.formUnion(layers.flatMap { [Self.loName($0), Self.hiName($0)] }) }
    var step = 0
    for _ in 0..<o.epochs {
      var order = Array(0..<perEpoch)
      order.shuffle(using: &rng)
      var sum = 0.0
      for b in order {
        let cosine = Float(0.5 * (1 + cos(Double.pi * Double(step) / Double(max(steps, 1)))))
        let x = feeds.mapValues { $0.rows((b * batch)..<((b + 1) * batch)) }
        let trace = try training.forward(x, overrides: overrides(), until: logits)
        let z = trace[logits]!
        var value = 0.0, seed = [Float](repeating: 0, count: z.count)
        if o.loss != .task {
          let d = DistillationLoss(rowLength: rowLength, rows: references[b].count / rowLength).value(logits: z.floats, reference: references[b])
          value += d.loss
          for i in seed.indices { seed[i] += d.gradient[i] }
        }
        if o.loss != .distillation, let labels {
          let t = labels.loss(logits: z, rows: (b * batch)..<((b + 1) * batch))
          value += t.loss
          for i in seed.indices { seed[i] += t.gradient[i] }
        }
        let grads = try training.backward(trace, seeds: [logits: seed], parameters: params)
        for (i, l) in layers.enumerated() {
          let gw = l.layout.rowsMajor(grads[l.weight]!)
          let q = codeValues(l)
          let qmax = Float(WeightQuantizer.maxCode(bits: l.bits)) + 0.5
          // Straight through the rounding, in quantization steps: du = dW·s (0 where u is
          // clipped); the scale: d(log s) = Σ dW·s·q over the scale's weights.
          var gu = [Float](repeating: 0, count: gw.count), gs = [Float](repeating: 0, count: l.scales.count)
          for j in gw.indices {
            let si = scaleIndex(l, j), s = l.scales[si]
            if abs(l.latent[j]) <= qmax { gu[j] = gw[j] * s }
            gs[si] += gw[j] * s * q[j]
          }
          momentum[i].accumulate(gu)
          if o.scaleRate > 0 {
            let d = scaleAdam[i].update(gs)
            for r in l.scales.indices { layers[i].scales[r] = l.scales[r] * exp(-o.scaleRate * cosine * d[r]) }
          }
          if o.biasRate > 0, let gb = grads[Self.biasValue(l)] {
            let d = biasAdam[i].update(gb)
            for r in l.bias.indices { layers[i].bias[r] -= o.biasRate * l.biasUnit * cosine * d[r] }
          }
          if o.clipRate > 0 {
            // Bounds in log units: d(log|b|) = dL/db · b; lo stays ≤ 0, hi > 0.
            let d = clipAdam[i].update([(grads[Self.loName(l)]?.first ?? 0) * l.lo, (grads[Self.hiName(l)]?.first ?? 0) * l.hi])
            if l.lo < 0 { layers[i].lo = l.lo * exp(-o.clipRate * cosine * d[0]) }
            layers[i].hi = l.hi * exp(-o.clipRate * cosine * d[1])
          }
        }
        let largest = momentum.reduce(0) { max($0, $1.largest) }
        if o.weightRate > 0, largest > 0 {
          for i in layers.indices { momentum[i].apply(&layers[i].latent, rate: o.weightRate * cosine / largest) }
        }
        sum += value
        step += 1
        progress(step, steps, value)
      }
      epochLoss.append(sum / Double(perEpoch))
    }
    return (result(), codes(), epochLoss)
  }

  /// The plan with the trained ranges, scale factors and bias corrections (rounding `qat`).
  func result() -> PrecisionPlan {
    var result = plan
    for l in layers {
      guard let i = result.layers.firstIndex(where: { $0.name == l.name }) else { continue }
      result.layers[i].input = ActivationParameters.covering(lo: l.lo, hi: l.hi, scheme: .asymmetric)
      result.layers[i].rounding = .qat
      result.layers[i].biasShift = zip(l.bias, l.original).map { $0 - $1 }
      if l.group == nil, l.scales.count == l.layout.rows {
        // Base scales are positive normal numbers (WeightQuantizer); factors of 1 stay exactly 1.
        result.layers[i].weightScaleFactors = zip(l.scales, l.baseScales).map { $1 > 0 ? $0 / $1 : 1 }
      }
    }
    return result
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
