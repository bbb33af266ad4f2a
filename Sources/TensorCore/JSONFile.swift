import Foundation

/// The project's JSON documents (plan.json, analysis.json): pretty-printed with sorted keys so
/// diffs stay small, non-finite numbers as "inf"/"-inf"/"nan", written atomically; read errors
/// name the file and say what it should have been.
public enum JSONFile {
  public static func write<T: Encodable>(_ value: T, to url: URL) throws {
    try AtomicFile.write(try encoded(value), to: url)
  }

  /// The document's bytes, as `write` stores them.
  public static func encoded<T: Encodable>(_ value: T) throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return try encoder.encode(value)
  }

  /// - Parameter what: the document's name in messages ("plan", "analysis").
  public static func read<T: Decodable>(_ type: T.Type, from url: URL, what: String) throws -> T {
    do { try FileChecks.requireFile(url, what: what) } catch let e as TensorIOError { throw PlanError(e.description) }
    let data: Data
    do { data = try Data(contentsOf: url) } catch {
      throw PlanError("cannot read \(what) '\(url.path)': \(error.localizedDescription)")
    }
    return try decode(type, from: data, name: url.path, what: what)
  }

  /// Decodes a document's bytes; `name` (the file) appears in messages.
  public static func decode<T: Decodable>(_ type: T.Type, from data: Data, name: String, what: String) throws -> T {
    let decoder = JSONDecoder()
    decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    do { return try decoder.decode(type, from: data) } catch let e as DecodingError {
      // Foundation on Linux reports a number out of its field's range as invalid JSON: tell them apart.
      if case .dataCorrupted(let c) = e, c.codingPath.isEmpty, (try? JSONSerialization.jsonObject(with: data)) != nil {
        throw PlanError("'\(name)' is valid JSON but not a mixprec \(what): a value does not fit its field (a number out of range or of the wrong kind)")
      }
      throw PlanError("'\(name)' is not a mixprec \(what): \(describe(e))")
    } catch {
      throw PlanError("'\(name)' is not a mixprec \(what): \(error.localizedDescription)")
    }
  }

  /// A decoding error as one line: where in the document and what was wrong.
  static func describe(_ e: DecodingError) -> String {
    func path(_ keys: [CodingKey]) -> String {
      keys.isEmpty ? "the top level" : keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
    }
    switch e {
    case .dataCorrupted(let c):
      if c.codingPath.isEmpty { return "not valid JSON (\(c.underlyingError.map { "\($0.localizedDescription)" } ?? c.debugDescription))" }
      return "value at \(path(c.codingPath)): \(c.debugDescription)"
    case .keyNotFound(let key, let c): return "missing key '\(key.stringValue)' at \(path(c.codingPath))"
    case .typeMismatch(let type, let c): return "value at \(path(c.codingPath)) is not \(type)"
    case .valueNotFound(let type, let c): return "missing \(type) value at \(path(c.codingPath))"
    @unknown default: return "\(e)"
    }
  }
}
