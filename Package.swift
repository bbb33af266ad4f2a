// swift-tools-version: 6.1
import PackageDescription

/// Module layering follows ../shared/DESIGN.md: each target imports only those listed above it.
let package = Package(
  name: "mixprec",
  platforms: [.macOS(.v14)],
  products: [
    .executable(name: "mixprec", targets: ["mixprec"]),
    .library(name: "MixPrecCore", targets: ["TensorCore", "GraphIR", "ONNXFormat", "Kernels", "Execution"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
    .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
  ],
  targets: [
    // System libraries (module maps only). OpenBLAS is listed before GSL everywhere so that
    // `cblas_sgemm` resolves to OpenBLAS rather than to GSL's reference gslcblas.
    .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS"),
    .systemLibrary(name: "CGSL", path: "Sources/CGSL"),
    .systemLibrary(name: "CGLPK", path: "Sources/CGLPK"),

    // C kernels (SIMD intrinsics live only here) and small C runtime helpers.
    .target(name: "CKernels"),

    // Swift face of the C kernels: packing once per layer, threading over cores.
    .target(
      name: "Kernels",
      dependencies: ["CKernels"],
      swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]),

    .target(
      name: "TensorCore",
      dependencies: [.product(name: "ZIPFoundation", package: "ZIPFoundation")]),
    .target(name: "GraphIR", dependencies: ["TensorCore"]),
    .target(
      name: "ONNXFormat",
      dependencies: ["TensorCore", "GraphIR", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
      exclude: ["Generated/onnx.proto"]),
    .target(
      name: "Execution",
      dependencies: ["COpenBLAS", "CKernels", "Kernels", "TensorCore", "GraphIR"],
      // Release builds drop bounds checks in the kernels; debug builds (the tests) keep them.
      swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]),
    .target(name: "Quantizers", dependencies: ["TensorCore", "GraphIR", "ONNXFormat", "Kernels", "Execution"]),
    .target(
      name: "Gradients",
      dependencies: ["TensorCore", "GraphIR", "Kernels", "Execution"],
      swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]),
    .target(name: "Sensitivity", dependencies: ["TensorCore", "GraphIR", "Execution", "Quantizers", "Gradients", "CGSL"]),
    .target(name: "Allocation", dependencies: ["CGLPK"]),
    .target(name: "HTMLReport", dependencies: ["Sensitivity"]),
    .target(
      name: "MixPrec",
      dependencies: ["TensorCore", "GraphIR", "Kernels", "Execution", "Quantizers", "Gradients", "Sensitivity", "Allocation"]),
    .executableTarget(
      name: "mixprec",
      dependencies: [
        "TensorCore", "GraphIR", "ONNXFormat", "Kernels", "Execution", "Quantizers", "Gradients", "Sensitivity", "Allocation", "MixPrec", "HTMLReport",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Crypto", package: "swift-crypto"),
      ]),

    .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore"]),
    .testTarget(name: "KernelsTests", dependencies: ["Kernels", "CKernels", "TensorCore"]),
    .testTarget(name: "GraphIRTests", dependencies: ["GraphIR", "TensorCore"]),
    .testTarget(
      name: "ONNXFormatTests",
      dependencies: ["ONNXFormat", "GraphIR", "TensorCore", .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
    .testTarget(
      name: "ExecutionTests",
      dependencies: ["Execution", "ONNXFormat", "GraphIR", "TensorCore", "CGSL"]),
    .testTarget(name: "AllocationTests", dependencies: ["Allocation", "TensorCore"]),
    .testTarget(name: "MixPrecTests", dependencies: ["MixPrec", "Gradients", "Execution", "Quantizers", "GraphIR", "TensorCore"]),
    .testTarget(name: "HTMLReportTests", dependencies: ["HTMLReport", "Sensitivity"], exclude: ["Snapshots"]),
    .testTarget(name: "GradientsTests", dependencies: ["Gradients", "Execution", "GraphIR", "TensorCore"]),
    .testTarget(
      name: "SensitivityTests",
      dependencies: ["Sensitivity", "Gradients", "TensorCore", "Quantizers", "Execution", "GraphIR", "CGSL"]),
    .testTarget(name: "QuantizersTests", dependencies: ["Quantizers", "Execution", "GraphIR", "TensorCore"]),
    .testTarget(
      name: "CLITests",
      dependencies: ["mixprec", "ONNXFormat", "TensorCore", .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
  ],
  swiftLanguageModes: [.v6]
)
