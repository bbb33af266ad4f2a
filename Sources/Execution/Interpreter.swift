import Dispatch
import GraphIR
import TensorCore

/// Runs a graph node by node on the reference kernels. Values live in numbered slots and are
/// released after their last reader, so peak memory is the live set, not every activation.
struct Interpreter {
  struct Step {
    var node: Node
    var kernel: OpKernel
    var inputs: [Int]  // slot per input, -1 for omitted
    var outputs: [Int]  // slot per output, -1 for unused
    var release: [Int]  // slots whose last reader is this step
  }

  let steps: [Step]
  let slotCount: Int
  let inputSlots: [(name: String, slot: Int)]
  let outputSlots: [(name: String, slot: Int)]
  let constants: [(slot: Int, value: Tensor)]
  let opset: Int
  /// Value name → slot.
  let slotOf: [String: Int]

  /// - Parameter fuseActivations: run the nodes `EpilogueFusion` finds after a Conv or a
  ///   constant-weight MatMul (bias, activation, scalar affine) inside it; `observe` then sees the
  ///   Conv or MatMul with the last absorbed node's output.
  /// - Parameter quantized: layers (by node name) that run on the quantized kernels.
  init(graph: Graph, fuseActivations: Bool = true, quantized: [String: LayerQuantization] = [:]) throws {
    let fused = fuseActivations ? EpilogueFusion.find(in: graph) : [:]
    var slot: [String: Int] = [:]
    func slotFor(_ name: String) -> Int {
      if let s = slot[name] { return s }
      slot[name] = slot.count
      return slot.count - 1
    }
    let inputSlots = graph.inputs.map { ($0.name, slotFor($0.name)) }
    var constants: [(Int, Tensor)] = []
    for (name, t) in graph.initializers { constants.append((slotFor(name), t)) }
    var steps: [Step] = []
    var lastUse: [Int: Int] = [:]
    var defined = Set(slot.values)
    let absorbed = Set(fused.values.flatMap(\.absorbed))
    for (i, original) in graph.nodes.enumerated() {
      if absorbed.contains(i) { continue }
      var n = original
      var kernel = try OpRegistry.kernel(for: n, opset: graph.opset)
      // Constant FP32 weights are packed for the GEMM once, on the session's first run.
      let packed = PackedFloatWeights.applies(to: n, in: graph) ? PackedFloatWeights() : nil
      if let packed {
        switch n.opType {
        case "Conv": kernel = { node, inputs, _ in [try ConvOps.conv(node, inputs, packed: packed)] }
        case "MatMul":
          kernel = { node, inputs, _ in
            [try LinearOps.matmul(node, try inputs.required(0, node), try inputs.required(1, node), packed: packed)]
          }
        default: kernel = { node, inputs, _ in [try LinearOps.gemm(node, inputs, packed: packed)] }
        }
      }
      if let f = fused[i] {
        let epilogue = f.epilogue, columnBias = f.columnBias
        if n.opType == "Conv" {
          kernel = { node, inputs, _ in [try ConvOps.conv(node, inputs, epilogue: epilogue, packed: packed)] }
        } else {
          kernel = { node, inputs, _ in
            [try LinearOps.matmul(node, try inputs.required(0, node), try inputs.required(1, node), packed: packed,
              columnBias: columnBias, epilogue: epilogue)]
          }
        }
        n.outputs = graph.nodes[f.absorbed.last!].outputs
      }
      if case .product(let left, let right)? = quantized[n.name] {
        guard QuantizedProduct.supports(n, in: graph) else {
          throw GraphError("'\(n.name)' (\(n.opType)) cannot run as an INT8 activation product: it needs a MatMul of two computed values")
        }
        kernel = { node, inputs, _ in
          [try QuantizedProduct.run(node, left: try inputs.required(0, node), right: try inputs.required(1, node),
            leftCodes: left, rightCodes: right)]
        }
      } else if let spec = quantized[n.name] {
        guard QuantizedLayer.supports(n, in: graph),
          let w = n.input(graph.weightInput(of: n)).flatMap({ graph.initializers[$0] })
        else {
          throw GraphError("layer '\(n.name)' (\(n.opType)) cannot run quantized: it needs a constant float32 weight (and, for Gemm, no transA, alpha = beta = 1, a per-column bias; for Gather, a 2-D table gathered along axis 0)")
        }
        let bias = n.opType == "Gather" ? nil
          : try fused[i]?.columnBias ?? n.input(2).flatMap { graph.initializers[$0] }.map { try $0.floatValues(n) }
        let layer = QuantizedLayer(node: n, spec: spec, weight: w, bias: bias, epilogue: fused[i]?.epilogue ?? .identity)
        let input = layer.runInput
        kernel = { node, inputs, _ in [try layer.run(try inputs.required(input, node))] }
      }
      let ins = try n.inputs.map { name -> Int in
        if name.isEmpty { return -1 }
        guard let s = slot[name], defined.contains(s) else {
          throw GraphError("node '\(n.name)' (\(n.opType)) reads '\(name)', which no earlier node, input or initializer defines")
        }
        lastUse[s] = steps.count
        return s
      }
      let outs = n.outputs.map { $0.isEmpty ? -1 : slotFor($0) }
      for o in outs where o >= 0 { defined.insert(o) }
      steps.append(Step(node: n, kernel: kernel, inputs: ins, outputs: outs, release: []))
    }
    let outputSlots = try graph.outputs.map { o -> (String, Int) in
      guard let s = slot[o.name], defined.contains(s) else {
        throw GraphError("graph output '\(o.name)' is produced by no node, input or initializer")
      }
      return (o.name, s)
    }
    let pinned = Set(outputSlots.map(\.1) + constants.map(\.0))
    for (s, i) in lastUse where !pinned.contains(s) { steps[i].release.append(s) }
    self.steps = steps
    self.slotCount = slot.count
    self.inputSlots = inputSlots
    self.outputSlots = outputSlots
    self.constants = constants
    self.opset = graph.opset
    self.slotOf = slot
  }

  /// Runs every node; `observe` sees each node with its output values as they are produced.
  /// `profile` receives each node's wall time in nanoseconds.
  ///
  /// - Parameter resume: start at the step of node `node`, every value before it taken from
  ///   `known` (a run of the same feeds that recorded them by name).
  func run(_ feeds: [String: Tensor], observe: ((Node, [Tensor]) -> Void)? = nil,
           profile: ((Node, UInt64) -> Void)? = nil,
           resume: (node: String, known: [String: Tensor])? = nil) throws -> [String: Tensor] {
    var values = [Tensor?](repeating: nil, count: slotCount)
    for (s, t) in constants { values[s] = t }
    for (name, s) in inputSlots {
      guard let t = feeds[name] else { throw GraphError("missing value for model input '\(name)'") }
      values[s] = t
    }
    var first = 0
    if let resume {
      guard let i = steps.firstIndex(where: { $0.node.name == resume.node }) else {
        throw GraphError("cannot resume at node '\(resume.node)': the prepared graph has no such node")
      }
      first = i
      let pinned = Set(constants.map(\.slot))
      for (name, t) in resume.known { if let s = slotOf[name], !pinned.contains(s) { values[s] = t } }
    }
    for step in steps[first...] {
      let args = step.inputs.map { $0 < 0 ? nil : values[$0] }
      let results: [Tensor]
      let t0 = profile == nil ? 0 : DispatchTime.now().uptimeNanoseconds
      do {
        results = try step.kernel(step.node, args, opset)
        if let profile { profile(step.node, DispatchTime.now().uptimeNanoseconds - t0) }
      } catch let e as GraphError {
        throw e
      } catch {
        throw opError(step.node, "\(error)")
      }
      for (k, s) in step.outputs.enumerated() where s >= 0 {
        guard k < results.count else { throw opError(step.node, "produced \(results.count) outputs, \(step.outputs.count) expected") }
        values[s] = results[k]
      }
      observe?(step.node, results)
      for s in step.release { values[s] = nil }
    }
    var out: [String: Tensor] = [:]
    for (name, s) in outputSlots { out[name] = values[s] }
    return out
  }
}
