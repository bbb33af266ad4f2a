import Foundation
import TensorCore

/// The `.npy` and `.npz` readers on arbitrary bytes ("PK" first: a zip archive).
func fuzzOne(_ data: Data) {
  if data.first == 0x50 {
    _ = try? NPZ.decode(data, name: "fuzz.npz")
  } else {
    _ = try? NPY.decode(data, name: "fuzz.npy")
  }
}
