import Foundation
import XCTest

@testable import Execution
@testable import GraphIR
@testable import TensorCore

/// Runs one op through a real Session: every input is a graph input (so nothing is folded away).
func runOp(_ op: String, _ inputs: [Tensor?], attributes: [String: Attribute] = [:], outputs: Int = 1,
           opset: Int = 17) throws -> [Tensor] {
  let names = inputs.enumerated().map { $1 == nil ? "" : "in\($0)" }
  let outNames = (0..<outputs).map { "out\($0)" }
  let node = Node(name: "node_under_test", opType: op, inputs: names, outputs: outNames, attributes: attributes)
  let present = inputs.enumerated().compactMap { i, t in t.map { (names[i], $0) } }
  let g = Graph(nodes: [node],
    inputs: present.map { ValueInfo(name: $0.0, dtype: $0.1.dtype, shape: $0.1.shape.map { Optional($0) }) },
    outputs: outNames.map { ValueInfo(name: $0, dtype: .float32, shape: []) }, opset: opset)
  let session = try Session(graph: g)
  let result = try session.run(Dictionary(uniqueKeysWithValues: present))
  return outNames.map { result[$0]! }
}

/// Deterministic pseudo-random floats in [-1, 1) (SplitMix64).
func randomFloats(_ n: Int, seed: UInt64) -> [Float] {
  var g = SeededGenerator(seed: seed &+ 0x9E37_79B9_7F4A_7C15)
  return (0..<n).map { _ in Float(g.next() >> 40) / Float(1 << 24) * 2 - 1 }
}

func randomTensor(_ shape: [Int], seed: UInt64) -> Tensor {
  Tensor(shape: shape, floats: randomFloats(shape.reduce(1, *), seed: seed))
}

/// Float32 GEMM/conv results differ from a naive sum only by reassociation: a few ULPs of the
/// magnitudes summed. 1e-4 absolute is ample for the sizes used here (|values| ≤ ~10).
let reassociationTolerance: Float = 1e-4

func assertClose(_ got: [Float], _ want: [Float], tolerance: Float = reassociationTolerance,
                 _ message: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line) {
  XCTAssertEqual(got.count, want.count, "count \(message())", file: file, line: line)
  for i in 0..<min(got.count, want.count) where !(abs(got[i] - want[i]) <= tolerance) {
    XCTFail("element \(i): got \(got[i]), want \(want[i]) (tolerance \(tolerance)) \(message())", file: file, line: line)
    return
  }
}
