import Kernels


/// Every instruction set above scalar that this CPU runs: each is compared with the scalar twin.
let vectorISAs = KernelISA.available.filter { $0 != .scalar }

/// Raw bytes of a buffer of `count` elements of `bytes` each, for bit-for-bit comparisons.
func output(count: Int, bytes: Int, _ body: (UnsafeMutableRawPointer) throws -> Void) rethrows -> [UInt8] {
  var out = [UInt8](repeating: 0xAB, count: count * bytes)
  try out.withUnsafeMutableBytes { try body($0.baseAddress!) }
  return out
}

/// The first differing element index, for failure messages.
func firstDifference(_ a: [UInt8], _ b: [UInt8], elementBytes: Int) -> Int? {
  zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }.map { $0.offset / elementBytes }
}
