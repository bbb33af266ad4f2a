import Foundation
/// Shape arithmetic shared by the graph passes and the runtime.
public enum ShapeMath {
  /// Row-major strides of `shape` in elements.
  @inlinable
  public static func strides(_ shape: [Int]) -> [Int] {
    var s = [Int](repeating: 1, count: shape.count)
    var acc = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
      s[i] = acc
      acc *= shape[i]
    }
    return s
  }

  /// NumPy/ONNX multidirectional broadcast of two shapes, or nil when they do not broadcast.
  public static func broadcast(_ a: [Int], _ b: [Int]) -> [Int]? {
    let r = max(a.count, b.count)
    var out = [Int](repeating: 1, count: r)
    for i in 0..<r {
      let da = i < r - a.count ? 1 : a[i - (r - a.count)]
      let db = i < r - b.count ? 1 : b[i - (r - b.count)]
      if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
    }
    return out
  }

  /// The element count of `shape`, or nil when a dimension is negative or the product overflows Int.
  public static func checkedCount(_ shape: [Int]) -> Int? {
    var n = 1
    for d in shape {
      guard d >= 0 else { return nil }
      let (p, overflow) = n.multipliedReportingOverflow(by: d)
      if overflow { return nil }
      n = p
    }
    return n
  }

  /// Normalizes a possibly negative axis into `0..<rank`, or nil when out of range.
  @inlinable
  public static func axis(_ a: Int, rank: Int) -> Int? {
    let v = a < 0 ? a + rank : a
    return (0..<max(rank, 1)).contains(v) ? v : nil
  }
}

/// A byte count for people: "1.50 MB", "85.2 KB", "312 B" (1 KB = 1024 bytes).
public func formatBytes(_ b: Int) -> String {
  if b >= 1 << 20 { return String(format: "%.2f MB", Double(b) / 1_048_576) }
  if b >= 1 << 10 { return String(format: "%.1f KB", Double(b) / 1024) }
  return "\(b) B"
}
