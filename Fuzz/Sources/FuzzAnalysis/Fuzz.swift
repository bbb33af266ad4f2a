import Findings
import Foundation
import Sensitivity

/// analysis.json decoding and validation on arbitrary bytes, then a merge of it as two shards.
func fuzzOne(_ data: Data) {
  guard let a = try? AnalysisResult.decode(data, name: "fuzz.analysis.json") else { return }
  var first = a, second = a
  first.shard = "1/2"
  second.shard = "2/2"
  _ = try? AnalysisResult.merge([first, second])
}
