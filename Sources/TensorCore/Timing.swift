import Foundation

extension Duration {
  /// The duration in seconds, as a `Double`.
  public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}

/// Facts about this process's resources.
public enum ProcessResources {
  /// The most resident memory this process has held so far, in MB (Linux `ru_maxrss` is in KB).
  public static var peakResidentMegabytes: Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
  }
}
