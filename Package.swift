// swift-tools-version: 6.1
import PackageDescription

/// Module layering follows ../shared/DESIGN.md: each target imports only those listed above it.
let package = Package(
  name: "mixprec",
  platforms: [.macOS(.v14)],
  products: [
    .executable(name: "mixprec", targets: ["mixprec"]),
    // The library a Swift program tunes models with: the pipelines (MixPrec) and the modules its
    // public API hands out (plans, tensors, sessions, budgets, the report's data).
    .library(
      name: "MixPrec",
      targets: ["MixPrec", "Findings", "HTMLReport", "Allocation", "Sensitivity", "Quantizers", "Execution", "Kernels", "GraphIR", "ONNXFormat", "TensorCore"]),
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

    // C kernels (SIMD intrinsics live only here) and small C runtime helpers. Optimized in debug
    // builds too: the tests run whole models on them (the FP32 reference included).
    // No errno from sqrtf and friends: the loops that call them vectorize (results are the same IEEE values).
    .target(name: "CKernels", cSettings: [.unsafeFlags(["-fno-math-errno"]), .unsafeFlags(["-O2"], .when(configuration: .debug))]),

    // Swift face of the C kernels: packing once per layer, threading over cores.
    .target(
      name: "Kernels",
      dependencies: ["CKernels", "COpenBLAS"],
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
      dependencies: ["Kernels", "TensorCore", "GraphIR"],
      // Release builds drop bounds checks in the kernels; debug builds (the tests) keep them.
      swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]),
    .target(name: "Quantizers", dependencies: ["TensorCore", "GraphIR", "ONNXFormat", "Kernels", "Execution"]),
    .target(
      name: "Gradients",
      dependencies: ["TensorCore", "GraphIR", "Kernels", "Execution"],
      swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]),
    .target(name: "Sensitivity", dependencies: ["TensorCore", "GraphIR", "Execution", "Kernels", "Quantizers", "Gradients", "Findings", "CGSL"]),
    .target(name: "Allocation", dependencies: ["CGLPK"]),
    // The report's data (AnalysisResult, TuningSummary): a leaf under nothing heavy.
    .target(name: "Findings", dependencies: ["TensorCore"]),
    .target(name: "HTMLReport", dependencies: ["Findings", "TensorCore"]),
    .target(
      name: "MixPrec",
      dependencies: [
        "TensorCore", "GraphIR", "ONNXFormat", "Kernels", "Execution", "Quantizers", "Gradients", "Sensitivity", "Allocation", "Findings",
        "HTMLReport", .product(name: "Crypto", package: "swift-crypto"),
      ]),
    .executableTarget(
      name: "mixprec",
      dependencies: [
        "TensorCore", "GraphIR", "Kernels", "Execution", "Quantizers", "Sensitivity", "Allocation", "Findings", "MixPrec",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),

    .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore"]),
    .testTarget(name: "KernelsTests", dependencies: ["Kernels", "CKernels", "TensorCore"]),
    .testTarget(name: "GraphIRTests", dependencies: ["GraphIR", "TensorCore"]),
    .testTarget(
      name: "ONNXFormatTests",
      dependencies: ["ONNXFormat", "GraphIR", "TensorCore", .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
    .testTarget(
      name: "ExecutionTests",
      dependencies: ["Execution", "Kernels", "ONNXFormat", "GraphIR", "TensorCore", "CGSL"]),
    .testTarget(name: "AllocationTests", dependencies: ["Allocation", "TensorCore"]),
    .testTarget(
      name: "MixPrecTests",
      dependencies: ["MixPrec", "Allocation", "Findings", "Sensitivity", "Gradients", "Execution", "Quantizers", "GraphIR", "ONNXFormat", "TensorCore"]),
    .testTarget(name: "HTMLReportTests", dependencies: ["HTMLReport", "Findings", "Sensitivity", "TensorCore"], exclude: ["Snapshots"]),
    .testTarget(name: "GradientsTests", dependencies: ["Gradients", "Execution", "GraphIR", "TensorCore"]),
    .testTarget(
      name: "SensitivityTests",
      dependencies: ["Sensitivity", "Findings", "Gradients", "TensorCore", "Quantizers", "Execution", "GraphIR", "CGSL"]),
    .testTarget(name: "QuantizersTests", dependencies: ["Quantizers", "Sensitivity", "Execution", "Kernels", "GraphIR", "TensorCore"]),
    .testTarget(
      name: "CLITests",
      dependencies: ["mixprec", "ONNXFormat", "GraphIR", "TensorCore", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
      exclude: ["Snapshots"]),
  ],
  swiftLanguageModes: [.v6]
)
