import Foundation
import TensorCore
import XCTest

/// `analyze --shard auto` as a Slurm job array on a real one-node cluster (Debian slurm-wlm and
/// munge, started here with a generated slurm.conf), then `merge` as a job that depends on the
/// array: the merged analysis equals the unsharded one on the same samples, layer for layer.
final class SlurmTests: XCTestCase {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  /// Runs a tool with a time limit, returning its status and output (both streams).
  func shell(_ args: [String], environment: [String: String] = [:], timeLimit: Double = 120) throws -> (status: Int32, out: String) {
    let r = try ChildProcess.run(args[0], Array(args.dropFirst()), environment: environment, timeLimit: timeLimit)
    XCTAssertFalse(r.timedOut, "\(args.joined(separator: " ")) ran past \(Int(timeLimit)) s")
    return (r.status, r.stdout + r.stderr)
  }

  /// Waits for a job to end (every task of an array), at most `seconds`; nil when it did not.
  func waitForJob(_ job: String, environment: [String: String], seconds: Double) throws -> String? {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      // squeue lists the job while any task is pending or running.
      let queued = try shell(["squeue", "-h", "-j", job, "-o", "%T %r"], environment: environment)
      if queued.status == 0 && queued.out.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return "" }
      if queued.status != 0 && queued.out.contains("Invalid job id") { return "" }
      // A dependency that can never be met leaves the job pending for ever.
      if queued.out.contains("DependencyNeverSatisfied") { return queued.out }
      Thread.sleep(forTimeInterval: 1)
    }
    return nil
  }

  func testShardedAnalysisOnASlurmArrayEqualsTheUnshardedOne() throws {
    for tool in ["sbatch", "slurmctld", "slurmd", "munged"] {
      guard try shell(["sh", "-c", "command -v \(tool) || test -x /usr/sbin/\(tool)"]).status == 0 else {
        XCTFail("\(tool) is missing: `make deps` installs slurm-wlm and munge")
        return
      }
    }
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("mixprec-slurm-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    let scripts = Self.root.appendingPathComponent("Tests/Slurm")
    let started = try shell([scripts.appendingPathComponent("start-cluster.sh").path, work.appendingPathComponent("cluster").path])
    defer {
      _ = try? shell([scripts.appendingPathComponent("stop-cluster.sh").path, work.appendingPathComponent("cluster").path])
      try? FileManager.default.removeItem(at: work)
    }
    XCTAssertEqual(started.status, 0, started.out)
    guard started.status == 0 else { return }
    let conf = ["SLURM_CONF": work.appendingPathComponent("cluster/slurm.conf").path]
    // The node registers with the controller within a few seconds.
    var idle = false
    for _ in 0..<60 where !idle {
      idle = try shell(["sinfo", "-h", "-o", "%t"], environment: conf).out.contains("idle")
      if !idle { Thread.sleep(forTimeInterval: 0.5) }
    }
    XCTAssertTrue(idle, "the Slurm node never became idle")
    guard idle else { return }

    let binary = Bundle.main.bundleURL.appendingPathComponent("mixprec").path
    let model = Self.root.appendingPathComponent("Calibration/models/ch_ppocr_mobile_v2.0_cls_infer.onnx").path
    let calib = Self.root.appendingPathComponent("Calibration/cls-check").path
    let analyze = "\(binary) analyze \(model) --calib \(calib) --candidates int8,int4 --samples 4"
    let parts = (0..<4).map { work.appendingPathComponent("part_\($0).json").path }
    // The README's recipe: an array of 4 tasks, then the merge once all of them succeeded.
    let array = try shell(["sbatch", "--parsable", "--array=0-3", "--output=\(work.path)/task_%a.log",
      "--wrap", "\(analyze) --shard auto --out \(work.path)/part_${SLURM_ARRAY_TASK_ID}.json"], environment: conf)
    XCTAssertEqual(array.status, 0, array.out)
    let job = array.out.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ";").first.map(String.init) ?? ""
    let merged = work.appendingPathComponent("merged.json").path
    let merge = try shell(["sbatch", "--parsable", "--kill-on-invalid-dep=yes", "--dependency=afterok:\(job)",
      "--output=\(work.path)/merge.log", "--wrap", "\(binary) merge \(parts.joined(separator: " ")) --out \(merged)"],
      environment: conf)
    XCTAssertEqual(merge.status, 0, merge.out)
    let mergeJob = merge.out.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ";").first.map(String.init) ?? ""
    // Four analyses of 4 samples and a merge take well under a minute here; ten is a hang.
    let ended = try waitForJob(mergeJob, environment: conf, seconds: 600)
    if ended == nil { _ = try? shell(["scancel", job, mergeJob], environment: conf) }
    let logs = (try? FileManager.default.contentsOfDirectory(atPath: work.path).filter { $0.hasSuffix(".log") }
      .map { "\($0): " + ((try? String(contentsOfFile: work.appendingPathComponent($0).path, encoding: .utf8)) ?? "") }
      .joined(separator: "\n")) ?? ""
    XCTAssertNotNil(ended, "the Slurm jobs did not end within 10 minutes\n" + logs)
    XCTAssertEqual(ended ?? "", "", "the merge job could not run\n" + logs)
    guard ended == "", FileManager.default.fileExists(atPath: merged) else {
      XCTFail("the merge job wrote no \(merged)\n" + logs)
      return
    }

    let whole = work.appendingPathComponent("whole.json").path
    let unsharded = try runMixprec(["analyze", model, "--calib", calib, "--candidates", "int8,int4", "--samples", "4", "--out", whole],
      in: work)
    XCTAssertEqual(unsharded.status, 0, unsharded.stderr)
    func layers(_ path: String) throws -> [[String: Any]] {
      let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any]
      return try XCTUnwrap(json?["layers"] as? [[String: Any]], "\(path) has no layers" + logs)
    }
    let a = try layers(merged), b = try layers(whole)
    XCTAssertEqual(a.count, b.count)
    for (x, y) in zip(a, b) {
      XCTAssertEqual(x["name"] as? String, y["name"] as? String)
      XCTAssertEqual(x["index"] as? Int, y["index"] as? Int)
      // The same layer on the same samples: the same damages, to the bit.
      XCTAssertEqual(NSDictionary(dictionary: x["sensitivity"] as? [String: Any] ?? [:]),
        NSDictionary(dictionary: y["sensitivity"] as? [String: Any] ?? [:]), "\(x["name"] ?? "")")
    }
  }
}
