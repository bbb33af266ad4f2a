// swift-tools-version: 6.1
import PackageDescription

/// libFuzzer targets for mixprec's loaders, built only by `make fuzz` / `make fuzz-smoke` with
/// `-sanitize=fuzzer,address` (they call libFuzzer's driver, which a plain build does not link;
/// that is why they live in their own package).
let package = Package(
  name: "mixprec-fuzz",
  dependencies: [.package(name: "mixprec", path: "..")],
  targets: [
    .target(name: "CFuzz"),
    .target(name: "FuzzDriver", dependencies: ["CFuzz"]),
    .executableTarget(name: "FuzzONNX", dependencies: ["FuzzDriver", .product(name: "MixPrec", package: "mixprec")]),
    .executableTarget(name: "FuzzNPY", dependencies: ["FuzzDriver", .product(name: "MixPrec", package: "mixprec")]),
    .executableTarget(name: "FuzzPlan", dependencies: ["FuzzDriver", .product(name: "MixPrec", package: "mixprec")]),
    .executableTarget(name: "FuzzAnalysis", dependencies: ["FuzzDriver", .product(name: "MixPrec", package: "mixprec")]),
  ],
  swiftLanguageModes: [.v6]
)
