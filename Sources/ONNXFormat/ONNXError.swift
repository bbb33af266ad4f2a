/// A model file that cannot be read; the message names the file and what to do.
public struct ONNXError: Error, CustomStringConvertible, Sendable {
  public let description: String
  public init(_ message: String) { description = message }
}
