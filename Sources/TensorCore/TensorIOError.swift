/// A failure reading or writing tensor files; the message names the file and the fix.
public struct TensorIOError: Error, CustomStringConvertible, Sendable {
  public let description: String
  public init(_ message: String) { description = message }
}
