/// A graph that cannot be prepared or run; the message names the node, the op and the fix.
public struct GraphError: Error, CustomStringConvertible, Sendable {
  public let description: String
  public init(_ message: String) { description = message }
}
