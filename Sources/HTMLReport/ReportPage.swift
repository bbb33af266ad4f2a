import Foundation
import Findings
import TensorCore

/// Renders an `AnalysisResult` (with `tune`'s decision when present) as one self-contained HTML
/// page: inline CSS and SVG, a few lines of inline JavaScript for sorting the table, no network.
/// It computes nothing beyond layout: every figure comes from the result.
public enum ReportPage {
  public static func render(_ a: AnalysisResult) -> String {
    var sections: [String] = []
    sections.append(summary(a))
    if let t = a.tuning { sections.append(strip(a, t)) }
    sections.append(table(a))
    sections.append(damageChart(a))
    if a.layers.contains(where: { $0.hessian != nil }) {
      sections.append(traceChart(a))
      sections.append(scatter(a))
    } else if let why = a.hessianSkipped {
      sections.append("<h2>Hessian trace per layer</h2><p class=\"note\">Not estimated: \(escape(why)).</p>")
    }
    if let t = a.tuning {
      sections.append(pareto(t))
      if let q = t.qat { sections.append(qat(q, t)) }
      if let p = t.activationProducts, !p.isEmpty { sections.append(products(p, damage: t.activationProductDamage)) }
      sections.append(breakdown(a, t))
    }
    if let r = a.rangeComparison, !r.isEmpty { sections.append(ranges(r, candidates: a.candidates)) }
    if let t = a.tuning { sections.append(reproduce(t)) }
    return """
      <!DOCTYPE html>
      <html lang="en">
      <head>
      <meta charset="utf-8"/>
      <title>mixprec report: \(escape(a.model))</title>
      <style>\(css)</style>
      </head>
      <body>
      <h1>mixprec report: \(escape(a.model))</h1>
      \(sections.joined(separator: "\n"))
      <script>//<![CDATA[
      \(script)
      //]]></script>
      </body>
      </html>

      """
  }

  static let css = """
    body{font-family:system-ui,-apple-system,"DejaVu Sans",sans-serif;margin:24px;color:#222;max-width:1100px}
    h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}
    table{border-collapse:collapse;font-size:12px}th,td{padding:3px 7px;border-bottom:1px solid #eee;text-align:right}
    th{cursor:pointer;background:#f6f6f6;position:sticky;top:0}td:first-child,th:first-child,td.l{text-align:left}
    .axis{stroke:#333;stroke-width:1}.grid{stroke:#e4e4e4;stroke-width:1}.tick{font-size:10px;fill:#444}.label{font-size:11px;fill:#222}
    .legend span{margin-right:14px;font-size:12px}.legend i{display:inline-block;width:11px;height:11px;margin-right:4px;vertical-align:-1px}
    .note{color:#555;font-size:12px}td.p{font-style:italic;color:#777}pre{background:#f6f6f6;padding:8px;font-size:11px;overflow-x:auto;white-space:pre-wrap}
    .scroll{max-height:520px;overflow:auto}.legend i.ring{background:#fff;border:2px solid #555;width:8px;height:8px;border-radius:50%}
    @media print{.scroll{max-height:none;overflow:visible}th{position:static}body{margin:0}}
    """

  /// Click a header to sort by that column (numbers by value, text alphabetically); again to reverse.
  /// `#sort=K` in the address sorts by column K on load (a link to a sorted view).
  static let script = """
    document.querySelectorAll('table.sortable th').forEach(function(th){th.addEventListener('click',function(){
    var t=th.closest('table'),b=t.tBodies[0],i=Array.prototype.indexOf.call(th.parentNode.children,th),d=th.dataset.d==='1'?-1:1;
    th.dataset.d=d===1?'1':'0';var rows=Array.prototype.slice.call(b.rows);
    rows.sort(function(r,s){var x=r.cells[i].dataset.v,y=s.cells[i].dataset.v;var p=parseFloat(x),q=parseFloat(y);
    if(!isNaN(p)&&!isNaN(q))return d*(p-q);return d*String(r.cells[i].textContent).localeCompare(String(s.cells[i].textContent));});
    rows.forEach(function(r){b.appendChild(r);});});});
    var m=/^#sort=([0-9]+)$/.exec(location.hash);if(m){var h=document.querySelectorAll('table.sortable th')[parseInt(m[1])];if(h)h.click();}
    """

  static func summary(_ a: AnalysisResult) -> String {
    var rows: [(String, String)] = [("model", a.model), ("sha256", a.modelSHA256), ("layers analyzed", "\(a.layers.count)"),
      ("calibration samples", "\(a.samples)"), ("candidates", a.candidates.joined(separator: ", "))]
    if let s = a.summary {
      rows += [("parameters", "\(s.parameters)"), ("FP32 layer weights", formatBytes(s.fp32WeightBytes)), ("machine", s.machine), ("kernels", s.isa),
        ("ops", s.opHistogram.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))]
    }
    if let t = a.tuning {
      rows.append(("FP32 latency", String(format: "%@ ms predicted, %@ ms measured (batch %d)", figure(t.fp32.predictedLatencyMs), figure(t.fp32.measuredLatencyMs), t.batch)))
      if let m = t.metricName { rows.append(("FP32 \(m)", figure(t.fp32.metric))) }
      rows.append(("budget", t.budget))
      rows.append(("objective", t.objective))
    }
    if let m = a.taskMetric { rows.append(("task metric (sweep samples)", "\(m) \(figure(a.taskReference))")) }
    return "<h2>Model</h2><table>" + rows.map { "<tr><td class=\"l\">\(escape($0.0))</td><td class=\"l\">\(escape($0.1))</td></tr>" }.joined() + "</table>"
  }

  /// The chosen precision of every layer along the network's depth.
  static func strip(_ a: AnalysisResult, _ t: TuningSummary) -> String {
    let n = max(a.layers.count, 1), w = 1000.0 / Double(n)
    var body = ""
    for (i, l) in a.layers.enumerated() {
      let p = t.chosen[l.name] ?? "fp32"
      body += "<rect x=\"\(Chart.f(Double(i) * w))\" y=\"0\" width=\"\(Chart.f(max(w - 1, 0.5)))\" height=\"34\" fill=\"\(Palette.precision(p))\"><title>\(escape("\(l.name) (\(l.op)): \(p)"))</title></rect>"
    }
    let counts = Dictionary(grouping: t.chosen.values, by: { $0 }).mapValues(\.count)
    let text = ["fp32", "fp16", "int8", "int4"].compactMap { p in counts[p].map { "\($0) \(p)" } }.joined(separator: ", ")
    return "<h2>Chosen plan along the depth</h2>"
      + "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 1000 34\" width=\"1000\" height=\"34\" role=\"img\">\(body)</svg>"
      + legend(["fp32", "fp16", "int8", "int4"].map { ($0, Palette.precision($0)) })
      + "<p class=\"note\">\(escape(text)); first layer on the left.</p>"
  }

  static func cell(_ v: Double?, _ text: String? = nil) -> String {
    let key = v.map { $0.isFinite ? String(format: "%.6e", $0) : ($0 > 0 ? "1e308" : "-1e308") } ?? ""
    return "<td data-v=\"\(key)\">\(escape(text ?? figure(v)))</td>"
  }

  /// "the output y (sigmoid, detected)" or "the outputs a (logits) + b (embedding, given)".
  static func outputsPhrase(_ a: AnalysisResult) -> String {
    guard let outputs = a.outputs, !outputs.isEmpty else { return "the first floating-point output" }
    return (outputs.count == 1 ? "the output " : "the outputs ")
      + outputs.map { "\($0.name) (\($0.kind.rawValue), \($0.detected ? "detected" : "given"))" }.joined(separator: " + ")
  }

  /// The measures of the kinds the analysis used.
  static func kindsPhrase(_ a: AnalysisResult) -> String {
    let kinds = (a.outputs ?? []).map(\.kind)
    let used = kinds.isEmpty ? [OutputKind.logits] : OutputKind.allCases.filter(kinds.contains)
    let phrases: [String] = used.map {
      switch $0 {
      case .probs: return "probabilities: mean KL per row"
      case .logits: return "logits: mean KL of the rows' softmax"
      case .sigmoid: return "sigmoid map: mean binary KL per element"
      case .embedding: return "embedding: mean 1 − cosine per row"
      case .regression: return "regression: Σ(y − ŷ)²/Σy²"
      }
    }
    return phrases.joined(separator: "; ") + (kinds.count > 1 ? "; summed over the outputs" : "")
  }

  static func table(_ a: AnalysisResult) -> String {
    let hasH = a.layers.contains { $0.hessian != nil }
    let t = a.tuning
    var head = ["#", "layer", "op", "weight shape", "params"]
    if t != nil { head.append("precision") }
    head += a.candidates.map { "damage \($0)" }
    if hasH { head += ["Tr(H)", "±95%", "λmax"] + a.candidates.map { "Ω \($0)" } }
    if t?.latencyMs != nil { head += (["fp32"] + a.candidates).map { "ms \($0)" } }
    var rows = ""
    for l in a.layers {
      var r = "<tr>" + cell(Double(l.index), "\(l.index)") + "<td class=\"l\">\(escape(l.name))</td><td class=\"l\">\(escape(l.op))</td>"
      let shape = a.summary?.weightShapes[l.name].map { $0.map(String.init).joined(separator: "×") } ?? ""
      r += "<td class=\"l\">\(escape(shape))</td>" + cell(Double(l.params), "\(l.params)")
      if let t { let p = t.chosen[l.name] ?? "fp32"; r += "<td class=\"l\" data-v=\"\(p)\"><i style=\"color:\(Palette.precision(p))\">■</i> \(p)</td>" }
      for c in a.candidates {
        if let e = l.sensitivity[c], let n = e.samples {
          r += "<td class=\"p\" data-v=\"\(String(format: "%.6e", e.damage))\" title=\"measured on \(n) samples spread over the set\">\(escape(figure(e.damage)))</td>"
        } else {
          r += cell(l.sensitivity[c]?.damage)
        }
      }
      if hasH {
        let h = l.hessian
        r += cell(h?.trace) + cell(h?.ci95) + cell(h?.topEigenvalue)
        for c in a.candidates { r += cell(h?.score[c]) }
      }
      if let lat = t?.latencyMs {
        for c in ["fp32"] + a.candidates { r += cell(lat[l.name]?[c]) }
      }
      rows += r + "</tr>"
    }
    return "<h2>Layers</h2><p class=\"note\">Damage: how far \(escape(outputsPhrase(a))) moved from FP32 with this layer alone at the precision (\(kindsPhrase(a))). Tr(H), λmax: Hessian of the distillation loss in the layer's weights; Ω = Tr(H)/n·‖Q(W)−W‖².\(screeningPhrase(a)) Click a header to sort.</p>"
      + "<div class=\"scroll\"><table class=\"sortable\"><thead><tr>" + head.map { "<th>\(escape($0))</th>" }.joined() + "</tr></thead><tbody>" + rows + "</tbody></table></div>"
  }

  /// What the screened sweep measured, or nothing for a full sweep.
  static func screeningPhrase(_ a: AnalysisResult) -> String {
    guard let s = a.screening else { return "" }
    let fits = s.fits.sorted { $0.key < $1.key }.map { String(format: "%@: log d ≈ %.2f + %.2f·log Ω (σ %.2f, %d pairs)", $0.key, $0.value.intercept, $0.value.slope, $0.value.spread, $0.value.pairs) }
    var out = " Screened sweep: \(s.measuredPairs) of \(s.totalPairs) layer × precision pairs measured on every sample in \(s.measuredPerRound.count) rounds "
      + "(\(s.measuredPerRound.map(String.init).joined(separator: " + "))), chosen where the layer's choice under the budget (\(escape(s.resource)) ≤ \(figure(s.budget))) "
      + "was uncertain within the band of Ω's fit per precision (\(escape(fits.joined(separator: "; "))))."
    if s.probedPairs > 0 {
      let spreads = s.probeSpread.sorted { $0.key < $1.key }.map { String(format: "%@ %.2f", $0.key, $0.value) }.joined(separator: ", ")
      out += String(format: " The other %d (in italics) were measured on %d samples spread over the set only and were not in doubt within that band", s.probedPairs, s.probeSamples)
        + " (the sub-sample's damage strays from the full one by a log spread of \(escape(spreads)) on the pairs measured both ways)."
    }
    return out
  }

  static func damageChart(_ a: AnalysisResult) -> String {
    let values = a.layers.flatMap { l in a.candidates.compactMap { l.sensitivity[$0]?.damage } }.filter { $0 > 0 && $0.isFinite }
    guard let lo = values.min(), let hi = values.max() else { return "<h2>Damage per layer</h2><p class=\"note\">no damage measured</p>" }
    var c = Chart(width: 1000, height: 280, x: 0...Double(max(a.layers.count, 1)), y: lo...hi, yLog: true)
    c.axes(xLabel: "layer (model order)", yLabel: "damage (log)", xTicks: false)
    let slot = (c.width - c.left - c.right) / Double(max(a.layers.count, 1)), bar = slot / Double(max(a.candidates.count, 1))
    for (i, l) in a.layers.enumerated() {
      for (k, p) in a.candidates.enumerated() {
        guard let v = l.sensitivity[p]?.damage, v > 0 else { continue }
        let top = c.y(v)
        c.rect(x: c.left + Double(i) * slot + Double(k) * bar, y: top, w: bar, h: c.height - c.bottom - top, fill: Palette.precision(p),
          title: "\(l.name) \(p): damage \(figure(v))")
      }
    }
    return "<h2>Damage per layer and precision</h2>" + c.svg + legend(a.candidates.map { ($0, Palette.precision($0)) })
  }

  static func traceChart(_ a: AnalysisResult) -> String {
    let hs = a.layers.compactMap { l in l.hessian.map { (l, $0) } }
    let vals = hs.flatMap { [$0.1.trace + $0.1.ci95, max($0.1.trace - $0.1.ci95, $0.1.trace * 0.01)] }.filter { $0 > 0 && $0.isFinite }
    guard let lo = vals.min(), let hi = vals.max() else { return "" }
    var c = Chart(width: 1000, height: 260, x: 0...Double(max(a.layers.count, 1)), y: lo...hi, yLog: true)
    c.axes(xLabel: "layer (model order)", yLabel: "Tr(H) (log), 95% interval", xTicks: false)
    let slot = (c.width - c.left - c.right) / Double(max(a.layers.count, 1))
    for (i, l) in a.layers.enumerated() {
      guard let h = l.hessian, h.trace > 0 else { continue }
      let x = c.left + (Double(i) + 0.5) * slot
      c.line(x, c.y(max(h.trace - h.ci95, c.yRange.lowerBound)), x, c.y(h.trace + h.ci95), stroke: "#333")
      c.circle(x, c.y(h.trace), r: 3, fill: Palette.predicted, title: "\(l.name): Tr(H) \(figure(h.trace)) ± \(figure(h.ci95)) (\(h.samples) samples), λmax \(figure(h.topEigenvalue))")
      if let e = h.topEigenvalue, e > 0 { c.rect(x: x - 3, y: c.y(e) - 1, w: 6, h: 2, fill: Palette.measured, title: "\(l.name): λmax \(figure(e))") }
    }
    return "<h2>Hessian trace per layer</h2>" + c.svg + legend([("Tr(H) ± 95%", Palette.predicted), ("top eigenvalue", Palette.measured)])
  }

  static func scatter(_ a: AnalysisResult) -> String {
    guard let p = a.candidates.last else { return "" }
    let pts = a.layers.compactMap { l -> (String, Double, Double)? in
      guard let s = l.hessian?.score[p], let e = l.sensitivity[p], s > 0, e.damage > 0 else { return nil }
      let k = e.damage
      return (l.name, s, k)
    }
    guard let xs = pts.map(\.1).min(), let xh = pts.map(\.1).max(), let ys = pts.map(\.2).min(), let yh = pts.map(\.2).max() else { return "" }
    var c = Chart(width: 520, height: 360, x: xs...xh, y: ys...yh, xLog: true, yLog: true)
    c.axes(xLabel: "HAWQ-V2 score Ω at \(p) (log)", yLabel: "measured damage at \(p) (log)")
    for (name, x, y) in pts { c.circle(c.x(x), c.y(y), r: 3.5, fill: Palette.precision(p), title: "\(name): Ω \(figure(x)), damage \(figure(y))") }
    let rows = (a.correlations ?? []).map { "<tr><td class=\"l\">\(escape($0.proxy))</td><td class=\"l\">\($0.precision)</td><td>\(figure($0.spearman))</td><td>\($0.layers)</td></tr>" }.joined()
    return "<h2>Proxy vs measured damage</h2>" + c.svg
      + "<table><thead><tr><th>proxy</th><th>precision</th><th>Spearman ρ vs damage</th><th>layers</th></tr></thead><tbody>\(rows)</tbody></table>"
  }

  static func pareto(_ t: TuningSummary) -> String {
    var out = "<h2>Size and latency vs damage</h2>"
    func plot(_ key: (TuningSummary.Point) -> Double?, _ label: String, budget: Double?) -> String {
      let all = t.front + t.measured + t.baselines + [t.chosenPoint]
      let xs = all.compactMap(key), ys = all.flatMap { [$0.predictedDamage, $0.measuredDamage] }.compactMap { $0 }.filter { $0 > 0 }
      guard let x0 = xs.min(), let x1 = xs.max(), let y0 = ys.min(), let y1 = ys.max() else { return "" }
      var c = Chart(width: 720, height: 320, x: min(x0, budget ?? x0)...max(x1, budget ?? x1), y: y0...y1, yLog: true)
      c.axes(xLabel: label, yLabel: "damage to FP32 (log)")
      let front = t.front.compactMap { p -> (Double, Double)? in
        guard let x = key(p), let y = p.predictedDamage, y > 0 else { return nil }
        return (x, y)
      }.sorted { $0.0 < $1.0 }
      c.polyline(front, stroke: Palette.predicted)
      for (x, y) in front { c.circle(c.x(x), c.y(y), r: 2.5, fill: Palette.predicted, title: "front: predicted damage \(figure(y))") }
      for p in t.measured { if let x = key(p), let y = p.measuredDamage, y > 0 { c.circle(c.x(x), c.y(y), r: 4, fill: Palette.measured, title: "\(p.label): measured damage \(figure(y)), metric \(figure(p.metric))") } }
      for p in t.baselines { if let x = key(p), let y = p.measuredDamage, y > 0 { c.circle(c.x(x), c.y(y), r: 5, fill: "#ffffff", stroke: Palette.precision(String(p.label.split(separator: " ").last ?? "")), title: "\(p.label): measured damage \(figure(y)), metric \(figure(p.metric))") } }
      if let x = key(t.chosenPoint), let y = t.chosenPoint.measuredDamage ?? t.chosenPoint.predictedDamage, y > 0 {
        c.circle(c.x(x), c.y(y), r: 6, fill: Palette.chosen, stroke: "#000", title: "chosen: measured damage \(figure(t.chosenPoint.measuredDamage)), metric \(figure(t.chosenPoint.metric))")
      }
      if let b = budget { c.line(c.x(b), c.top, c.x(b), c.height - c.bottom, stroke: Palette.budget, dash: true); c.text("budget", x: c.x(b) + 3, y: c.top + 10) }
      return c.svg
    }
    let sizeBudget = t.budgetBytes.map(Double.init)
    out += plot({ Double($0.weightBytes) / 1024 }, "weights + scales (KB)", budget: sizeBudget.map { $0 / 1024 })
    if t.front.contains(where: { $0.predictedLatencyMs != nil }) {
      out += plot({ $0.measuredLatencyMs ?? $0.predictedLatencyMs }, "latency at batch \(t.batch) (ms; measured where run)", budget: t.budgetLatencyMs)
    }
    out += legend([("Pareto front (predicted)", Palette.predicted), ("measured points", Palette.measured), ("chosen", Palette.chosen), ("uniform baselines (ring, colored by precision)", "ring")])
    var rows = ""
    for p in [t.fp32] + t.baselines + [t.chosenPoint] + t.measured {
      rows += "<tr><td class=\"l\">\(escape(p.label))</td><td>\(formatBytes(p.weightBytes))</td><td>\(figure(p.predictedLatencyMs))</td><td>\(figure(p.measuredLatencyMs))</td><td>\(figure(p.predictedDamage))</td><td>\(figure(p.measuredDamage))</td><td>\(figure(p.metric))</td></tr>"
    }
    out += "<table><thead><tr><th>plan</th><th>weights</th><th>ms predicted</th><th>ms measured</th><th>damage predicted</th><th>damage measured</th><th>\(escape(t.metricName ?? "metric"))</th></tr></thead><tbody>\(rows)</tbody></table>"
    return out
  }

  static func products(_ names: [String], damage: Double?) -> String {
    "<h2>Activation products at INT8</h2><p class=\"note\">\(names.count) MatMuls between two activations run on the integer kernels "
      + "(left input uint8, right input symmetric int8, both per tensor with MSE ranges; int32 sums). Their damage alone, every layer FP32: "
      + "\(figure(damage)). Not solver choices: they hold no weights, so they save no bytes.</p>"
      + "<p class=\"note\">\(names.map(escape).joined(separator: ", "))</p>"
  }

  static func qat(_ q: TuningSummary.QATSummary, _ t: TuningSummary) -> String {
    let losses = q.epochLoss.map { figure($0) }.joined(separator: " → ")
    var rows = ""
    for p in [t.fp32, q.before, t.chosenPoint] {
      rows += "<tr><td class=\"l\">\(escape(p.label))</td><td>\(figure(p.measuredDamage))</td><td>\(figure(p.metric))</td></tr>"
    }
    return "<h2>Quantization-aware training</h2><p class=\"note\">\(q.epochs) epochs on \(q.trainingSamples) samples, loss \(escape(q.loss)) "
      + "(mean per epoch \(escape(losses))), \(figure(q.seconds)) s. Trained: weight codes, per-channel scales, biases and PACT input clips of the integer layers.</p>"
      + "<table><thead><tr><th>plan</th><th>damage measured</th><th>\(escape(t.metricName ?? "metric"))</th></tr></thead><tbody>\(rows)</tbody></table>"
  }

  static func breakdown(_ a: AnalysisResult, _ t: TuningSummary) -> String {
    var size: [String: Int] = [:], time: [String: Double] = [:]
    for l in a.layers {
      let p = t.chosen[l.name] ?? "fp32"
      size[p, default: 0] += t.weightBytes[l.name]?[p] ?? 0
      time[p, default: 0] += t.latencyMs?[l.name]?[p] ?? 0
    }
    func bar(_ parts: [(String, Double)], unit: (Double) -> String) -> String {
      let total = max(parts.reduce(0) { $0 + $1.1 }, 1e-30)
      var x = 0.0, body = ""
      for (p, v) in parts where v > 0 {
        let w = 1000 * v / total
        body += "<rect x=\"\(Chart.f(x))\" y=\"0\" width=\"\(Chart.f(w))\" height=\"26\" fill=\"\(Palette.precision(p))\"><title>\(escape("\(p): \(unit(v))"))</title></rect>"
        if w > 70 { body += "<text x=\"\(Chart.f(x + 4))\" y=\"17\" class=\"tick\" fill=\"#fff\" style=\"fill:#fff\">\(escape("\(p) \(unit(v))"))</text>" }
        x += w
      }
      return "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 1000 26\" width=\"1000\" height=\"26\" role=\"img\">\(body)</svg>"
    }
    let order = ["fp32", "fp16", "int8", "int4"]
    var out = "<h2>Where the bytes and the time go (chosen plan)</h2><p class=\"note\">weights + scales by precision</p>"
    out += bar(order.map { ($0, Double(size[$0] ?? 0)) }, unit: { formatBytes(Int($0)) })
    if t.latencyMs != nil {
      out += "<p class=\"note\">layer time by precision (median per layer on this machine, batch \(t.batch))</p>"
      out += bar(order.map { ($0, time[$0] ?? 0) }, unit: { String(format: "%.3f ms", $0) })
    }
    return out + legend(order.map { ($0, Palette.precision($0)) })
  }

  static func ranges(_ r: [String: [String: [String: Double]]], candidates: [String]) -> String {
    let methods = Array(Set(r.values.flatMap(\.keys))).sorted()
    let ints = candidates.filter { $0.hasPrefix("int") }
    var head = "<tr><th>layer</th>"
    for p in ints { for m in methods { head += "<th>\(escape("\(m) \(p)"))</th>" } }
    head += "</tr>"
    var rows = ""
    for name in r.keys.sorted() {
      rows += "<tr><td class=\"l\">\(escape(name))</td>"
      for p in ints {
        let best = methods.compactMap { r[name]?[$0]?[p] }.min()
        for m in methods {
          let v = r[name]?[m]?[p]
          rows += "<td\(v != nil && v == best ? " style=\"font-weight:bold\"" : "")>\(figure(v))</td>"
        }
      }
      rows += "</tr>"
    }
    return "<h2>Range methods on the most sensitive layers</h2><p class=\"note\">Damage with the layer alone quantized, per input-range method; the best in bold.</p><table><thead>\(head)</thead><tbody>\(rows)</tbody></table>"
  }

  static func reproduce(_ t: TuningSummary) -> String {
    "<h2>Reproduce</h2><pre>\(escape(t.commandLine))</pre>" + (t.planJSON.map { "<details><summary>plan.json</summary><pre>\(escape($0))</pre></details>" } ?? "")
  }
}
