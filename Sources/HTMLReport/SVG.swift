import Foundation
import TensorCore

/// Escapes text for HTML/XML content and attributes.
func escape(_ s: String) -> String {
  var out = ""
  out.reserveCapacity(s.count)
  for c in s {
    switch c {
    case "&": out += "&amp;"
    case "<": out += "&lt;"
    case ">": out += "&gt;"
    case "\"": out += "&quot;"
    case "'": out += "&#39;"
    default: out.append(c)
    }
  }
  return out
}

/// Short, fixed formatting of a figure (deterministic across runs).
func figure(_ v: Double?) -> String {
  guard let v else { return "–" }
  if v.isNaN { return "–" }
  if v.isInfinite { return v > 0 ? "∞" : "−∞" }
  if v == 0 { return "0" }
  return String(format: abs(v) >= 1e4 || abs(v) < 1e-3 ? "%.2e" : "%.4g", v)
}


/// The colorblind-safe palette (Okabe–Ito) by precision, and for the other marks.
enum Palette {
  static func precision(_ p: String) -> String {
    switch p {
    case "fp32": return "#555555"
    case "fp16": return "#0072B2"
    case "int8": return "#009E73"
    case "int4": return "#D55E00"
    default: return "#999999"
    }
  }
  static let measured = "#CC79A7"
  static let predicted = "#56B4E9"
  static let budget = "#000000"
  static let chosen = "#E69F00"
}

/// A chart's frame: size, margins, axis mapping (linear or log10) and the SVG it accumulates.
struct Chart {
  let width: Double, height: Double
  let left = 64.0, right = 34.0, top = 16.0, bottom = 44.0
  var xRange: ClosedRange<Double>, yRange: ClosedRange<Double>
  var xLog = false, yLog = false
  var body = ""

  init(width: Double = 720, height: Double = 260, x: ClosedRange<Double>, y: ClosedRange<Double>, xLog: Bool = false, yLog: Bool = false) {
    self.width = width
    self.height = height
    self.xLog = xLog
    self.yLog = yLog
    xRange = Self.padded(x, log: xLog)
    yRange = Self.padded(y, log: yLog)
  }

  static func padded(_ r: ClosedRange<Double>, log: Bool) -> ClosedRange<Double> {
    if log {
      let lo = max(r.lowerBound, 1e-30), hi = max(r.upperBound, lo * 10)
      return pow(10, floor(log10(lo)))...pow(10, ceil(log10(hi)))
    }
    if r.lowerBound == r.upperBound { return (r.lowerBound - 1)...(r.upperBound + 1) }
    let pad = (r.upperBound - r.lowerBound) * 0.05
    return (r.lowerBound - pad)...(r.upperBound + pad)
  }

  func x(_ v: Double) -> Double {
    let (lo, hi, t) = xLog ? (log10(xRange.lowerBound), log10(xRange.upperBound), log10(max(v, xRange.lowerBound))) : (xRange.lowerBound, xRange.upperBound, v)
    return left + (t - lo) / (hi - lo) * (width - left - right)
  }

  func y(_ v: Double) -> Double {
    let (lo, hi, t) = yLog ? (log10(yRange.lowerBound), log10(yRange.upperBound), log10(max(v, yRange.lowerBound))) : (yRange.lowerBound, yRange.upperBound, v)
    return height - bottom - (t - lo) / (hi - lo) * (height - top - bottom)
  }

  static func f(_ v: Double) -> String { String(format: "%.1f", v) }

  /// Axes with ticks (decades on log axes, five steps on linear ones) and labels.
  mutating func axes(xLabel: String, yLabel: String, xTicks: Bool = true) {
    let x0 = left, x1 = width - right, y0 = height - bottom, y1 = top
    body += "<line class=\"axis\" x1=\"\(Self.f(x0))\" y1=\"\(Self.f(y0))\" x2=\"\(Self.f(x1))\" y2=\"\(Self.f(y0))\"/>"
    body += "<line class=\"axis\" x1=\"\(Self.f(x0))\" y1=\"\(Self.f(y0))\" x2=\"\(Self.f(x0))\" y2=\"\(Self.f(y1))\"/>"
    for v in ticks(yRange, log: yLog) {
      body += "<line class=\"grid\" x1=\"\(Self.f(x0))\" y1=\"\(Self.f(y(v)))\" x2=\"\(Self.f(x1))\" y2=\"\(Self.f(y(v)))\"/>"
      body += "<text class=\"tick\" x=\"\(Self.f(x0 - 4))\" y=\"\(Self.f(y(v) + 3))\" text-anchor=\"end\">\(escape(figure(v)))</text>"
    }
    if xTicks {
      for v in ticks(xRange, log: xLog) {
        body += "<text class=\"tick\" x=\"\(Self.f(x(v)))\" y=\"\(Self.f(y0 + 14))\" text-anchor=\"middle\">\(escape(figure(v)))</text>"
      }
    }
    body += "<text class=\"label\" x=\"\(Self.f((x0 + x1) / 2))\" y=\"\(Self.f(height - 6))\" text-anchor=\"middle\">\(escape(xLabel))</text>"
    body += "<text class=\"label\" transform=\"translate(12 \(Self.f((y0 + y1) / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel))</text>"
  }

  func ticks(_ r: ClosedRange<Double>, log: Bool) -> [Double] {
    if log {
      let lo = Int(floor(log10(r.lowerBound))), hi = Int(ceil(log10(r.upperBound)))
      let step = max(1, (hi - lo) / 6)
      return stride(from: lo, through: hi, by: step).map { pow(10, Double($0)) }
    }
    return (0...4).map { r.lowerBound + (r.upperBound - r.lowerBound) * Double($0) / 4 }
  }

  mutating func rect(x: Double, y: Double, w: Double, h: Double, fill: String, title: String) {
    body += "<rect x=\"\(Self.f(x))\" y=\"\(Self.f(y))\" width=\"\(Self.f(max(w, 0.5)))\" height=\"\(Self.f(max(h, 0)))\" fill=\"\(fill)\"><title>\(escape(title))</title></rect>"
  }

  mutating func circle(_ cx: Double, _ cy: Double, r: Double = 4, fill: String, stroke: String? = nil, title: String) {
    let s = stroke.map { " stroke=\"\($0)\" stroke-width=\"2\"" } ?? ""
    body += "<circle cx=\"\(Self.f(cx))\" cy=\"\(Self.f(cy))\" r=\"\(Self.f(r))\" fill=\"\(fill)\"\(s)><title>\(escape(title))</title></circle>"
  }

  mutating func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String, dash: Bool = false, width w: Double = 1.5) {
    body += "<line x1=\"\(Self.f(x1))\" y1=\"\(Self.f(y1))\" x2=\"\(Self.f(x2))\" y2=\"\(Self.f(y2))\" stroke=\"\(stroke)\" stroke-width=\"\(Self.f(w))\"\(dash ? " stroke-dasharray=\"5 4\"" : "")/>"
  }

  mutating func polyline(_ points: [(Double, Double)], stroke: String) {
    let p = points.map { "\(Self.f(x($0.0))),\(Self.f(y($0.1)))" }.joined(separator: " ")
    body += "<polyline points=\"\(p)\" fill=\"none\" stroke=\"\(stroke)\" stroke-width=\"1.5\"/>"
  }

  mutating func text(_ s: String, x: Double, y: Double, anchor: String = "start", cls: String = "tick") {
    body += "<text class=\"\(cls)\" x=\"\(Self.f(x))\" y=\"\(Self.f(y))\" text-anchor=\"\(anchor)\">\(escape(s))</text>"
  }

  var svg: String {
    "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Self.f(width)) \(Self.f(height))\" width=\"\(Self.f(width))\" height=\"\(Self.f(height))\" role=\"img\">\(body)</svg>"
  }
}

/// A legend of colored swatches.
func legend(_ items: [(String, String)]) -> String {
  "<div class=\"legend\">" + items.map { $0.1 == "ring" ? "<span><i class=\"ring\"></i>\(escape($0.0))</span>"
    : "<span><i style=\"background:\($0.1)\"></i>\(escape($0.0))</span>" }.joined() + "</div>"
}
