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
    let data: Data
    do { data = try Data(contentsOf: url) } catch {
      throw PlanError("cannot read \(what) '\(url.path)': \(error.localizedDescription)")
    }
    let decoder = JSONDecoder()
    decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    do { return try decoder.decode(type, from: data) } catch {
      throw PlanError("'\(url.path)' is not a mixprec \(what): \(error)")
    }
  }
}
