import Foundation
import SwiftProtobuf
import XCTest

@testable import GraphIR
@testable import ONNXFormat
@testable import TensorCore

final class ImporterTests: XCTestCase {
  func tensorProto(_ name: String, dims: [Int64], type: Int32) -> Onnx_TensorProto {
    var t = Onnx_TensorProto()
    t.name = name
    t.dims = dims
    t.dataType = type
    return t
  }

  func valueInfo(_ name: String, _ dims: [Int64?]) -> Onnx_ValueInfoProto {
    var v = Onnx_ValueInfoProto()
    v.name = name
    v.type.tensorType.elemType = 1
    v.type.tensorType.shape.dim = dims.map { d in
      var dim = Onnx_TensorShapeProto.Dimension()
      if let d { dim.dimValue = d } else { dim.dimParam = "batch" }
      return dim
    }
    return v
  }

  func model(opset: Int64 = 13) -> Onnx_ModelProto {
    var m = Onnx_ModelProto()
    m.irVersion = 8
    var op = Onnx_OperatorSetIdProto()
    op.version = opset
    m.opsetImport = [op]
    var meta = Onnx_StringStringEntryProto()
    meta.key = "character"
    meta.value = "a\nb"
    m.metadataProps = [meta]
    var raw = tensorProto("w_raw", dims: [2], type: 1)
    raw.rawData = [Float(1.5), -2].withUnsafeBytes { Data($0) }
    var typed = tensorProto("w_typed", dims: [2, 1], type: 7)
    typed.int64Data = [3, -4]
    var half = tensorProto("w_half", dims: [1], type: 10)
    half.int32Data = [Int32(Float16(0.5).bitPattern)]
    var constant = Onnx_NodeProto()
    constant.opType = "Constant"
    constant.output = ["c"]
    var attr = Onnx_AttributeProto()
    attr.name = "value"
    attr.type = .tensor
    attr.t = tensorProto("", dims: [1], type: 1)
    attr.t.floatData = [7]
    constant.attribute = [attr]
    var add = Onnx_NodeProto()
    add.opType = "Add"
    add.input = ["x", "w_raw"]
    add.output = ["y"]
    m.graph.node = [constant, add]
    m.graph.initializer = [raw, typed, half]
    m.graph.input = [valueInfo("x", [nil, 2]), valueInfo("w_raw", [2])]
    m.graph.output = [valueInfo("y", [nil, 2])]
    return m
  }

  func testReadsInitializersConstantsAndMetadata() throws {
    let g = try ONNXImporter.load(data: try model().serializedData(), name: "m.onnx")
    XCTAssertEqual(g.opset, 13)
    XCTAssertEqual(g.initializers["w_raw"]?.floats, [1.5, -2])
    XCTAssertEqual(g.initializers["w_typed"]?.ints, [3, -4])
    XCTAssertEqual(g.initializers["w_typed"]?.shape, [2, 1])
    XCTAssertEqual(g.initializers["w_half"]?.floats, [0.5])
    XCTAssertEqual(g.metadata["character"], "a\nb")
    // Initializers listed as graph inputs are constants, not inputs.
    XCTAssertEqual(g.inputs.map(\.name), ["x"])
    XCTAssertEqual(g.inputs[0].shape, [nil, 2])
    XCTAssertEqual(g.inputs[0].dimNames, ["batch", nil])
    XCTAssertEqual(g.nodes.map(\.opType), ["Constant", "Add"])
    XCTAssertEqual(g.nodes[0].tensor("value")?.floats, [7])
  }

  func testExternalDataNextToTheModel() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mixprec-ext-\(getpid())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    var m = model()
    var ext = tensorProto("w_ext", dims: [3], type: 1)
    ext.dataLocation = .external
    for (k, v) in [("location", "weights.bin"), ("offset", "4"), ("length", "12")] {
      var e = Onnx_StringStringEntryProto()
      e.key = k
      e.value = v
      ext.externalData.append(e)
    }
    m.graph.initializer.append(ext)
    try ([Float(99), 1, 2, 3] as [Float]).withUnsafeBytes { Data($0) }.write(to: dir.appendingPathComponent("weights.bin"))
    try m.serializedData().write(to: dir.appendingPathComponent("m.onnx"))
    let g = try ONNXImporter.load(dir.appendingPathComponent("m.onnx"))
    XCTAssertEqual(g.initializers["w_ext"]?.floats, [1, 2, 3])
    try FileManager.default.removeItem(at: dir.appendingPathComponent("weights.bin"))
    XCTAssertThrowsError(try ONNXImporter.load(dir.appendingPathComponent("m.onnx"))) {
      XCTAssertTrue("\($0)".contains("weights.bin"), "\($0)")
    }
  }

  /// Found by fuzzing: dims whose product overflows Int trapped in the decoder.
  func testInitializerDimsThatOverflowAreAnError() throws {
    for dims: [Int64] in [[1 << 62, 1 << 62], [1 << 31, 1 << 31, 1 << 31], [Int64.max]] {
      var t = tensorProto("w", dims: dims, type: 1)
      t.rawData = Data(count: 16)
      XCTAssertThrowsError(try t.decoded(baseDirectory: nil), "\(dims)") { e in
        XCTAssertTrue("\(e)".contains("too many values"), "\(e)")
      }
    }
  }

  func testBadFilesGiveClearErrors() throws {
    XCTAssertThrowsError(try ONNXImporter.load(data: Data("definitely not onnx".utf8), name: "t.onnx")) {
      XCTAssertTrue("\($0)".contains("'t.onnx'"), "\($0)")
    }
    let full = try model().serializedData()
    XCTAssertThrowsError(try ONNXImporter.load(data: full.prefix(full.count / 2), name: "half.onnx")) {
      XCTAssertTrue("\($0)".contains("half.onnx"), "\($0)")
    }
    XCTAssertThrowsError(try ONNXImporter.load(data: try model(opset: 5).serializedData(), name: "old.onnx")) {
      XCTAssertTrue("\($0)".contains("opset 5"), "\($0)")
    }
    XCTAssertThrowsError(try ONNXImporter.load(URL(fileURLWithPath: "/nonexistent/m.onnx")))
  }
}
