import Foundation
import TensorCore

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
    // ONNX Runtime's own quantizer on the detector takes minutes; an hour is a hang.
    let result: ChildProcessResult
    do {
      result = try ChildProcess.run(python, (python.hasSuffix("env") ? ["python3"] : []) + [script] + arguments,
        input: input, passStandardError: true, timeLimit: 3600)
    } catch {
      note("note: ONNX Runtime comparison skipped: \(error)")
      return nil
    }
    guard result.status == 0, !result.timedOut else {
      note("note: ONNX Runtime comparison failed (\(script) \(result.timedOut ? "ran past an hour" : "exit \(result.status)"))")
      return nil
    }
    return result.stdout
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
