import Foundation

/// ONNX Runtime measured beside mixprec through the `Calibration/` Python scripts (the project's
/// venv when it exists). Every failure is a note and a nil result: the comparison is optional.
public enum ORTScripts {
  /// Runs `script` with `arguments` (and `input` on stdin) and returns its standard output.
  public static func run(_ script: String, arguments: [String], input: Data? = nil, note: (String) -> Void) -> String? {
    let python = FileManager.default.fileExists(atPath: ".venv/bin/python") ? ".venv/bin/python" : "/usr/bin/env"
    guard FileManager.default.fileExists(atPath: script) else {
      note("note: ONNX Runtime comparison skipped: \(script) not found (run from the repository root)")
      return nil
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: python)
    p.arguments = (python.hasSuffix("env") ? ["python3"] : []) + [script] + arguments
    let stdin = Pipe(), stdout = Pipe()
    if input != nil { p.standardInput = stdin }
    p.standardOutput = stdout
    p.standardError = FileHandle.standardError
    do { try p.run() } catch {
      note("note: ONNX Runtime comparison skipped: \(error.localizedDescription)")
      return nil
    }
    if let input {
      stdin.fileHandleForWriting.write(input)
      try? stdin.fileHandleForWriting.close()
    }
    let data = stdout.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0, let text = String(data: data, encoding: .utf8) else {
      note("note: ONNX Runtime comparison failed (\(script) exit \(p.terminationStatus))")
      return nil
    }
    return text
  }

  /// ONNX Runtime's median milliseconds on the same model and shapes (`Calibration/ort_bench.py`).
  public static func modelMedianMs(model: String, shapes: [String: [Int]], runs: Int, note: (String) -> Void) -> Double? {
    let script = ProcessInfo.processInfo.environment["MIXPREC_ORT_BENCH"] ?? "Calibration/ort_bench.py"
    let shapeArgs = shapes.map { "\($0.key)=\($0.value.map(String.init).joined(separator: "x"))" }
    guard let text = run(script, arguments: [model, "--runs", "\(runs)"] + shapeArgs.flatMap { ["--shape", $0] }, note: note),
      let v = Double(text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").last ?? "")
    else { return nil }
    return v
  }

  /// `Calibration/ort_kernels.py` on kernel cases (one JSON object per line back).
  public static func kernels(cases: [[String: Any]], threads: [Int], minSeconds: Double, note: (String) -> Void) -> [[String: Any]]? {
    let arguments = ["--threads", threads.map(String.init).joined(separator: ","), "--min-seconds", "\(minSeconds)"]
    let input = (try? JSONSerialization.data(withJSONObject: cases)) ?? Data()
    guard let text = run("Calibration/ort_kernels.py", arguments: arguments, input: input, note: note) else { return nil }
    return text.split(separator: "\n").compactMap {
      (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
    }
  }
}
