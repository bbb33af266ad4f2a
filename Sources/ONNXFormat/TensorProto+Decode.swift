import Foundation
import TensorCore

extension Onnx_TensorProto {
  /// Decodes the tensor from `raw_data`, the typed repeated fields, or external data stored in
  /// a file next to the model (`baseDirectory`).
  func decoded(baseDirectory: URL?) throws -> Tensor {
    guard let dtype = ONNXDataType.dtype(dataType) else {
      throw ONNXError("tensor '\(name)' has unsupported element type \(ONNXDataType.name(dataType))")
    }
    let shape = dims.map { Int($0) }
    guard shape.allSatisfy({ $0 >= 0 }) else { throw ONNXError("tensor '\(name)' has negative dims \(dims)") }
    // Checked: a corrupt file may claim dims whose product overflows (found by fuzzing).
    guard let n = ShapeMath.checkedCount(shape), case (_, false) = n.multipliedReportingOverflow(by: dtype.byteSize) else {
      throw ONNXError("tensor '\(name)' has dims \(dims), too many values to hold in memory")
    }
    if dataLocation == .external {
      let raw = try externalBytes(baseDirectory: baseDirectory)
      return try raw.withUnsafeBytes { try TensorBytes.decode($0, dtype: dtype, shape: shape) }
    }
    if hasRawData {
      do {
        return try rawData.withUnsafeBytes { try TensorBytes.decode($0, dtype: dtype, shape: shape) }
      } catch {
        throw ONNXError("tensor '\(name)': \(error)")
      }
    }
    func check(_ count: Int) throws {
      guard count == n else { throw ONNXError("tensor '\(name)' of shape \(shape) holds \(count) values") }
    }
    switch dtype {
    case .float32:
      try check(floatData.count)
      return Tensor(dtype: dtype, shape: shape, storage: .float(floatData))
    case .float64:
      try check(doubleData.count)
      return Tensor(dtype: dtype, shape: shape, storage: .float(doubleData.map { Float($0) }))
    case .float16:
      try check(int32Data.count)
      return Tensor(dtype: dtype, shape: shape, storage: .float(int32Data.map { Float(Float16(bitPattern: UInt16(truncatingIfNeeded: $0))) }))
    case .int64:
      try check(int64Data.count)
      return Tensor(dtype: dtype, shape: shape, storage: .int(int64Data))
    case .uint32, .uint64:
      try check(uint64Data.count)
      return Tensor(dtype: dtype, shape: shape, storage: .int(uint64Data.map { Int64(bitPattern: $0) }))
    case .bool:
      try check(int32Data.count)
      return Tensor(dtype: dtype, shape: shape, storage: .bool(int32Data.map { $0 != 0 }))
    default:
      try check(int32Data.count)
      return Tensor(shape: shape, ints: int32Data.map { Int64($0) }, dtype: dtype)
    }
  }

  private func externalBytes(baseDirectory: URL?) throws -> Data {
    var info: [String: String] = [:]
    for e in externalData { info[e.key] = e.value }
    guard let location = info["location"] else {
      throw ONNXError("tensor '\(name)' is stored externally but names no location")
    }
    guard let base = baseDirectory else {
      throw ONNXError("tensor '\(name)' is stored in external file '\(location)' but the model was not read from a file")
    }
    if location.hasPrefix("/") || location.split(separator: "/").contains("..") {
      throw ONNXError("tensor '\(name)': external data location '\(location)' must be a relative path inside the model's folder")
    }
    let url = base.appendingPathComponent(location)
    guard let handle = FileHandle(forReadingAtPath: url.path) else {
      throw ONNXError("tensor '\(name)': external data file '\(url.path)' not found; keep it next to the model")
    }
    defer { try? handle.close() }
    let offset = UInt64(info["offset"] ?? "0") ?? 0
    let byteCount = (ONNXDataType.dtype(dataType)?.byteSize ?? 1) * (ShapeMath.checkedCount(dims.map { Int($0) }) ?? 0)
    let length = Int(info["length"] ?? "") ?? byteCount
    do {
      try handle.seek(toOffset: offset)
      let data = try handle.read(upToCount: length) ?? Data()
      guard data.count == length else {
        throw ONNXError("tensor '\(name)': external file '\(location)' ends before offset \(offset) + \(length) bytes")
      }
      return data
    } catch let e as ONNXError { throw e } catch {
      throw ONNXError("tensor '\(name)': cannot read external file '\(location)': \(error.localizedDescription)")
    }
  }
}
