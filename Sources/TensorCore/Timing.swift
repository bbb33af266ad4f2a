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

  /// The CPU's model name (`/proc/cpuinfo`), for benchmark lines: figures are per machine.
  public static var cpuName: String {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown CPU" }
    func field(_ key: String) -> String? {
      guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(key) }), let colon = line.firstIndex(of: ":")
      else { return nil }
      return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    // Virtual machines may hide the marketing name: family and model still tell the generation.
    let name = field("model name") ?? "unknown CPU"
    guard let family = field("cpu family"), let model = field("model\t") else { return name }
    return "\(name) (family \(family) model \(model))"
  }
}
