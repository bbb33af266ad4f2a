import Foundation

/// The user's budgets, parsed from the command line. Sizes count weights + scales (biases stay
/// FP32 in every plan and are left out); KB and MB are 1024 and 1024² bytes.
public struct Budget: Sendable, Equatable {
  public var sizeBytes: Double?
  /// FP32 weight bytes / mixed weight bytes.
  public var compression: Double?
  /// Mean weight bits per parameter.
  public var averageBits: Double?
  public var latencySeconds: Double?
  /// Largest allowed drop of the task metric, as a fraction (1% → 0.01).
  public var maxDrop: Double?

  public init() {}

  public var isEmpty: Bool { sizeBytes == nil && compression == nil && averageBits == nil && latencySeconds == nil && maxDrop == nil }

  /// A readable summary ("size 1.20 MB, latency 3.00 ms").
  public var description: String {
    var parts: [String] = []
    if let s = sizeBytes { parts.append(String(format: "size %.0f bytes", s)) }
    if let c = compression { parts.append(String(format: "compression %gx", c)) }
    if let b = averageBits { parts.append(String(format: "average %g bits", b)) }
    if let l = latencySeconds { parts.append(String(format: "latency %.3f ms", l * 1e3)) }
    if let d = maxDrop { parts.append(String(format: "max drop %g%%", d * 100)) }
    return parts.joined(separator: ", ")
  }

  static func number(_ s: Substring) -> Double? {
    guard let v = Double(s.trimmingCharacters(in: .whitespaces)), v.isFinite, v > 0 else { return nil }
    return v
  }

  /// "1.5MB", "800KB", "123456" or "123456B".
  public static func parseSize(_ text: String) throws -> Double {
    let t = text.uppercased().replacingOccurrences(of: " ", with: "")
    for (suffix, scale) in [("MB", 1_048_576.0), ("KB", 1024.0), ("B", 1.0)] where t.hasSuffix(suffix) {
      if let v = number(t.dropLast(suffix.count)) { return v * scale }
    }
    if let v = number(Substring(t)) { return v }
    throw AllocationError.unreadableBudget(option: "size budget", text: text, rule: "is not a size; write e.g. 1.5MB, 800KB or 123456")
  }

  /// "4x" or "4".
  public static func parseCompression(_ text: String) throws -> Double {
    let t = text.lowercased()
    guard let v = number(t.hasSuffix("x") ? t.dropLast() : Substring(t)), v >= 1 else {
      throw AllocationError.unreadableBudget(option: "compression", text: text, rule: "is not a ratio ≥ 1; write e.g. 4x")
    }
    return v
  }

  public static func parseBits(_ text: String) throws -> Double {
    guard let v = number(Substring(text)), v >= 4, v <= 32 else {
      throw AllocationError.unreadableBudget(option: "average bits", text: text, rule: "must be a number between 4 and 32, e.g. 5.5")
    }
    return v
  }

  /// "3ms", "250us", "0.01s".
  public static func parseLatency(_ text: String) throws -> Double {
    let t = text.lowercased().replacingOccurrences(of: " ", with: "")
    for (suffix, scale) in [("ms", 1e-3), ("us", 1e-6), ("µs", 1e-6), ("s", 1.0)] where t.hasSuffix(suffix) {
      if let v = number(t.dropLast(suffix.count)) { return v * scale }
    }
    throw AllocationError.unreadableBudget(option: "latency budget", text: text, rule: "needs a unit; write e.g. 3ms, 250us or 0.01s")
  }

  /// "1%" or "0.5%" (points of the task metric).
  public static func parseDrop(_ text: String) throws -> Double {
    let t = text.trimmingCharacters(in: .whitespaces)
    guard t.hasSuffix("%"), let v = Double(t.dropLast()), v >= 0, v < 100 else {
      throw AllocationError.unreadableBudget(option: "max drop", text: text, rule: "must be a percentage of the task metric, e.g. 1%")
    }
    return v / 100
  }
}
