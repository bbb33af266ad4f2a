import GraphIR
import Kernels

/// A Conv layer of a specialized graph with the shape the kernels need.
public struct ConvLayerShape: Sendable {
  public var name: String
  public var nodeIndex: Int
  public var shape: ConvShape
}

extension GraphPreparation {
  /// The 2-D (or 1-D) Conv layers of `graph` with their per-image shapes, given the activation
  /// shapes `specialize` returned.
  public static func convLayerShapes(_ graph: Graph, shapes: [String: [Int]]) throws -> [ConvLayerShape] {
    try graph.layers.compactMap { layer -> ConvLayerShape? in
      let node = graph.nodes[layer.nodeIndex]
      guard node.opType == "Conv", let input = node.input(0), let x = shapes[input], x.count >= 3 else { return nil }
      let w = layer.weightShape
      let shape = try ConvShape(
        inChannels: x[1], outChannels: w[0], groups: node.int("group", default: 1), window: ConvWindow(node: node, input: x, weight: w))
      return ConvLayerShape(name: layer.name, nodeIndex: layer.nodeIndex, shape: shape)
    }
  }
}
