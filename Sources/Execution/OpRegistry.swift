import GraphIR
import TensorCore

/// Every op the FP32 reference runtime executes, by ONNX op type (default domain).
public enum OpRegistry {
  public static let kernels: [String: OpKernel] = {
    var k: [String: OpKernel] = [:]
    for family in [
      ElementwiseOps.kernels, UnaryOps.kernels, ActivationOps.kernels, SoftmaxOps.kernels,
      LinearOps.kernels, ConvOps.kernels, ConvTransposeOps.kernels, NormalizationOps.kernels,
      PoolingOps.kernels, ResizeOps.kernels, ShapeOps.kernels, MovementOps.kernels, SliceOps.kernels,
      GeneratorOps.kernels, CastOps.kernels, ReductionOps.kernels,
    ] {
      k.merge(family) { _, new in new }
    }
    return k
  }()

  /// Supported op types, sorted.
  public static var supportedOps: [String] { kernels.keys.sorted() }

  /// The kernel for `node`, or an error that names op, node and opset.
  public static func kernel(for node: Node, opset: Int) throws -> OpKernel {
    let domainOK = node.domain.isEmpty || node.domain == "ai.onnx"
    guard domainOK, let k = kernels[node.opType] else {
      let domain = domainOK ? "" : " in domain '\(node.domain)'"
      throw GraphError(
        "unsupported op '\(node.opType)'\(domain) at node '\(node.name)' (opset \(opset)); supported ops: `mixprec inspect --ops`")
    }
    return k
  }
}
