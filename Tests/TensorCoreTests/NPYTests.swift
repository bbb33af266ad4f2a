import Foundation
import XCTest

@testable import TensorCore

final class NPYTests: XCTestCase {
  func tmp(_ name: String) -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("mixprec-npy-\(getpid())-\(name)")
  }

  /// Every supported dtype survives encode → decode with shape and values intact.
  func testRoundTripEveryDType() throws {
    let shapes: [[Int]] = [[], [0], [1], [3], [2, 3, 5], [1, 0, 4]]
    for shape in shapes {
      let n = shape.reduce(1, *)
      let tensors: [Tensor] = [
        Tensor(shape: shape, floats: (0..<n).map { Float($0) * 0.37 - 1 }),
        Tensor(shape: shape, floats: (0..<n).map { Float($0) * 0.5 - 2 }, dtype: .float16),
        Tensor(shape: shape, ints: (0..<n).map { Int64($0) * 1_000_000_007 - 5 }),
        Tensor(shape: shape, ints: (0..<n).map { Int64($0) - 3 }, dtype: .int32),
        Tensor(shape: shape, ints: (0..<n).map { Int64($0 % 256) }, dtype: .uint8),
        Tensor(shape: shape, ints: (0..<n).map { Int64($0 % 200) - 100 }, dtype: .int8),
        Tensor(shape: shape, bools: (0..<n).map { $0 % 3 == 0 }),
      ]
      for t in tensors {
        let data = NPY.encode(t)
        XCTAssertEqual((Int(data[8]) | Int(data[9]) << 8 + 10) % 64, 0, "header of \(t) not 64-byte aligned")
        let back = try NPY.decode(data, name: "mem")
        XCTAssertEqual(back.dtype, t.dtype)
        XCTAssertEqual(back.shape, shape)
        XCTAssertEqual(back.asFloats(), t.asFloats(), "values of \(t)")
      }
    }
  }

  func testWriteIsAtomicAndReadable() throws {
    let url = tmp("a.npy")
    defer { try? FileManager.default.removeItem(at: url) }
    try NPY.write(Tensor(shape: [2], floats: [1, 2]), to: url)
    try NPY.write(Tensor(shape: [3], floats: [4, 5, 6]), to: url)
    XCTAssertEqual(try NPY.read(url).floats, [4, 5, 6])
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path)
      .filter { $0.contains("a.npy.tmp") && $0.contains("\(getpid())") }
    XCTAssertEqual(leftovers, [])
  }

  func testRejectsBadFiles() {
    XCTAssertThrowsError(try NPY.decode(Data("hello world, not numpy".utf8), name: "x")) {
      XCTAssertTrue("\($0)".contains("not a .npy file"), "\($0)")
    }
    var truncated = NPY.encode(Tensor(shape: [100], floats: [Float](repeating: 1, count: 100)))
    truncated.removeLast(10)
    XCTAssertThrowsError(try NPY.decode(truncated, name: "x")) { XCTAssertTrue("\($0)".contains("truncated"), "\($0)") }
    func edited(_ t: Tensor, _ from: String, _ to: String) -> Data {
      var d = NPY.encode(t)
      let r = d.range(of: Data(from.utf8))!
      d.replaceSubrange(r, with: Data(to.utf8))
      return d
    }
    let fortran = edited(Tensor(shape: [2, 2], floats: [1, 2, 3, 4]), "False", "True ")
    XCTAssertThrowsError(try NPY.decode(fortran, name: "x")) { XCTAssertTrue("\($0)".contains("Fortran"), "\($0)") }
    let complex = edited(Tensor(shape: [1], floats: [1]), "<f4", "<c8")
    XCTAssertThrowsError(try NPY.decode(complex, name: "x")) { XCTAssertTrue("\($0)".contains("unsupported element type"), "\($0)") }
  }

  func testNPZRoundTrip() throws {
    let url = tmp("b.npz")
    defer { try? FileManager.default.removeItem(at: url) }
    let arrays = ["x": Tensor(shape: [2, 2], floats: [1, 2, 3, 4]), "ids": Tensor(shape: [3], ints: [7, 8, 9])]
    try NPZ.write(arrays, to: url)
    let back = try NPZ.read(url)
    XCTAssertEqual(Set(back.keys), ["x", "ids"])
    XCTAssertEqual(back["x"]?.floats, [1, 2, 3, 4])
    XCTAssertEqual(back["ids"]?.ints, [7, 8, 9])
    XCTAssertThrowsError(try NPZ.read(tmp("missing.npz")))
  }
}

/// Inputs the fuzzers found: each must be refused with an error, never trap.
final class FuzzRegressionTests: XCTestCase {
  /// A zip whose central directory sends ZIPFoundation's in-memory reader out of range
  /// (Archive+MemoryFile.swift: "Range requires lowerBound <= upperBound"); read from a file
  /// it yields no array (or an error), and the process goes on.
  func testMalformedNPZDoesNotTrap() {
    let bytes = Data(base64Encoded: "UEsDBC0AAAAAAAAAIQBYIzIx//////////8FABQAeC5ucHkBABAAhAAAAAAAAACEAAAAAAAAAJNOsE1QWQEAdgB7J2Rlc2NyJzogJzxmMicsbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMSwgMiksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICACLQMtAAAAAAAAACEAWCMyMYQAAACEAAAABQAAAAAAAAAAAAAAgAEAAAAAeC5ucHlQSwECLQMtAAAAAAAAACEAPpoUXogAAACIAAAACgAAAAAAAAAAAAAAgAG7AAAAbGFiZWxzLm5weVBLBQYAAAAAAgACAGsAAAB/AQAAAAA=")!
    let arrays = try? NPZ.decode(bytes, name: "crash.npz")
    XCTAssertNil(arrays?["x"], "a malformed entry must not decode")
  }
}
