import TensorCore

/// One operator application. Empty strings in `inputs` mark omitted optional inputs.
public struct Node: Sendable {
  public var name: String
  public var opType: String
  public var domain: String
  public var inputs: [String]
  public var outputs: [String]
  public var attributes: [String: Attribute]

  public init(name: String, opType: String, domain: String = "", inputs: [String], outputs: [String],
              attributes: [String: Attribute] = [:]) {
    self.name = name
    self.opType = opType
    self.domain = domain
    self.inputs = inputs
    self.outputs = outputs
    self.attributes = attributes
  }

  /// Input `i`, or nil when absent or omitted.
  public func input(_ i: Int) -> String? { i < inputs.count && !inputs[i].isEmpty ? inputs[i] : nil }

  public func int(_ key: String) -> Int? { if case .int(let v)? = attributes[key] { return v }; return nil }
  public func int(_ key: String, default d: Int) -> Int { int(key) ?? d }
  public func ints(_ key: String) -> [Int]? {
    if case .ints(let v)? = attributes[key] { return v }
    return nil
  }
  public func float(_ key: String, default d: Float) -> Float {
    if case .float(let v)? = attributes[key] { return v }
    if case .int(let v)? = attributes[key] { return Float(v) }
    return d
  }
  public func floats(_ key: String) -> [Float]? {
    if case .floats(let v)? = attributes[key] { return v }
    return nil
  }
  public func string(_ key: String) -> String? {
    if case .string(let v)? = attributes[key] { return v }
    return nil
  }
  public func tensor(_ key: String) -> Tensor? {
    if case .tensor(let v)? = attributes[key] { return v }
    return nil
  }
}
