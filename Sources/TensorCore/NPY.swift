import Foundation

/// NumPy `.npy` files (format versions 1.0, 2.0 and 3.0, little-endian, C order).
///
/// Element types: float32, float16, float64, int64, int32, int16, int8, uint8, uint16, uint32,
/// uint64 and bool. Fortran-ordered arrays are refused with an error.
public enum NPY {
  static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"

  static let descrs: [String: DType] = [
    "f4": .float32, "f2": .float16, "f8": .float64, "i8": .int64, "i4": .int32, "i2": .int16,
    "i1": .int8, "u1": .uint8, "u2": .uint16, "u4": .uint32, "u8": .uint64, "b1": .bool,
  ]

  /// Reads one `.npy` file.
  public static func read(_ url: URL) throws -> Tensor {
    try FileChecks.requireFile(url, what: ".npy file")
    let data: Data
    do { data = try Data(contentsOf: url) } catch {
      throw TensorIOError("cannot read '\(url.path)': \(error.localizedDescription)")
    }
    return try decode(data, name: url.path)
  }

  /// Decodes the bytes of an `.npy` file; `name` appears in error messages.
  public static func decode(_ data: Data, name: String) throws -> Tensor {
    let bytes = [UInt8](data)
    guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
      throw TensorIOError("'\(name)' is not a .npy file (bad magic); write it with numpy.save")
    }
    let major = bytes[6]
    let headerLength: Int
    let headerStart: Int
    switch major {
    case 1:
      headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
      headerStart = 10
    case 2, 3:
      guard bytes.count >= 12 else { throw TensorIOError("'\(name)': truncated .npy header") }
      headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
      headerStart = 12
    default:
      throw TensorIOError("'\(name)': unsupported .npy format version \(major)")
    }
    guard bytes.count >= headerStart + headerLength,
      let header = String(bytes: bytes[headerStart..<headerStart + headerLength], encoding: .utf8)
    else { throw TensorIOError("'\(name)': truncated .npy header") }
    let (dtype, shape, fortran) = try parseHeader(header, name: name)
    if fortran {
      throw TensorIOError("'\(name)': Fortran-ordered array; save it with numpy.ascontiguousarray first")
    }
    // Checked: a header may claim a shape whose element or byte count overflows Int.
    guard let count = ShapeMath.checkedCount(shape), case let (byteCount, false) = count.multipliedReportingOverflow(by: dtype.byteSize) else {
      throw TensorIOError("'\(name)': shape \(shape) is too large to hold in memory")
    }
    let body = headerStart + headerLength
    guard bytes.count - body >= byteCount else {
      throw TensorIOError(
        "'\(name)': truncated data (\(bytes.count - body) bytes for \(count) \(dtype) values of shape \(shape))")
    }
    return try bytes.withUnsafeBytes { raw in
      try TensorBytes.decode(UnsafeRawBufferPointer(rebasing: raw[body..<body + byteCount]),
        dtype: dtype, shape: shape)
    }
  }

  /// Parses `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.
  static func parseHeader(_ header: String, name: String) throws -> (DType, [Int], Bool) {
    func value(of key: String) -> Substring? {
      guard let r = header.range(of: "'\(key)':") else { return nil }
      return header[r.upperBound...].drop(while: { $0 == " " })
    }
    guard let d = value(of: "descr"), d.first == "'" else {
      throw TensorIOError("'\(name)': .npy header without descr")
    }
    let descr = d.dropFirst().prefix(while: { $0 != "'" })
    guard descr.count >= 3, descr.first != ">" || descr.hasSuffix("1"),
      let dtype = descrs[String(descr.dropFirst())]
    else {
      throw TensorIOError(
        "'\(name)': unsupported element type '\(descr)'; use float32, float16, int64, int32, uint8, int8 or bool")
    }
    let fortran = value(of: "fortran_order")?.hasPrefix("True") ?? false
    guard let s = value(of: "shape"), s.first == "(" else {
      throw TensorIOError("'\(name)': .npy header without shape")
    }
    let inner = s.dropFirst().prefix(while: { $0 != ")" })
    var shape: [Int] = []
    for part in inner.split(separator: ",") {
      let t = part.trimmingCharacters(in: .whitespaces)
      if t.isEmpty { continue }
      guard let v = Int(t), v >= 0 else { throw TensorIOError("'\(name)': bad shape '(\(inner))'") }
      shape.append(v)
    }
    return (dtype, shape, fortran)
  }

  /// Encodes a tensor as `.npy` (version 1.0 header padded to 64 bytes).
  public static func encode(_ tensor: Tensor) -> Data {
    let descr: String
    switch tensor.dtype {
    case .bool: descr = "|b1"
    case .int8: descr = "|i1"
    case .uint8: descr = "|u1"
    default:
      descr = "<" + (descrs.first { $0.value == tensor.dtype }!.key)
    }
    let shapeText = tensor.shape.isEmpty ? "()" : tensor.shape.count == 1
      ? "(\(tensor.shape[0]),)" : "(" + tensor.shape.map(String.init).joined(separator: ", ") + ")"
    var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
    let unpadded = 10 + header.utf8.count + 1
    header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
    var out = Data(magic + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
    out.append(contentsOf: Array(header.utf8))
    out.append(TensorBytes.encode(tensor))
    return out
  }

  /// Writes a tensor to `url` through a temporary file renamed into place.
  public static func write(_ tensor: Tensor, to url: URL) throws {
    try AtomicFile.write(encode(tensor), to: url)
  }
}
