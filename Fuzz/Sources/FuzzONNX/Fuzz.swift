import Foundation
import ONNXFormat

/// The ONNX importer on arbitrary bytes: it must return a graph or throw, never trap.
func fuzzOne(_ data: Data) {
  _ = try? ONNXImporter.load(data: data, name: "fuzz.onnx")
}
