import Foundation
import Kernels
import MixPrec

/// How `bench kernels` prints its rows: a table, or one JSON object per row with `--json`.
struct KernelBenchReport {
  var json: Bool

  func report(_ rows: [KernelBenchmark.Row], isa: KernelISA) {
    if json {
      for r in rows {
        var fields: [String] = [
          "\"kernel\":\"\(r.kernel)\"", "\"isa\":\"\(isa)\"", "\"m\":\(r.m)", "\"n\":\(r.n)", "\"k\":\(r.k)",
          "\"threads\":\(r.threads)", "\"ms\":\(String(format: "%.5f", r.seconds * 1e3))", "\"gops\":\(String(format: "%.6g", r.gops))",
        ]
        if let l = r.layer { fields.append("\"layer\":\"\(l)\"") }
        if let g = r.group { fields.append("\"group\":\"\(g)\"") }
        if let o = r.ortGops, o > 0, (r.gops / o).isFinite {
          fields.append("\"ort_kernel\":\"\(r.ortKernel!)\"")
          fields.append("\"ort_gops\":\(String(format: "%.2f", o))")
          fields.append("\"ratio_vs_ort\":\(String(format: "%.3f", r.gops / o))")
        }
        print("{" + fields.joined(separator: ",") + "}")
      }
      return
    }
    print("kernels on \(isa) (MIXPREC_ISA forces a lower set); GOP/s = 2·m·n·k / median time; OpenBLAS core \(BLAS.coreName)")
    var table: [[String]] = []
    for r in rows {
      let shape = r.kernel == "vnni_peak" ? "-" : r.kernel.hasSuffix("_total") ? "\(r.k) MACs" : "\(r.m)×\(r.n)×\(r.k)"
      let name = r.kernel + (r.group.map { $0 == "row" ? "" : " g\($0)" } ?? "")
      table.append([
        name, r.layer ?? "", shape, "\(r.threads)", String(format: "%.4f", r.seconds * 1e3), String(format: "%.1f", r.gops),
        r.ortGops.map { String(format: "%.1f", $0) } ?? "", r.ortGops.map { String(format: "%.2fx", r.gops / $0) } ?? "",
      ])
    }
    printTable(["kernel", "layer", "m×n×k", "threads", "ms", "GOP/s", "ORT GOP/s", "vs ORT"], table)
  }
}
