import Foundation
import TensorCore

/// plan.json decoding and validation on arbitrary bytes.
func fuzzOne(_ data: Data) {
  _ = try? PrecisionPlan.decode(data, name: "fuzz.plan.json")
}
