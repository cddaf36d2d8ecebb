// swift-tools-version: 6.0
// Reflex: a runtime for Vision-Language-Action robot policies on ARM boards.
// Module plan and dependency rules: see README.md (and the design notes it links).
import PackageDescription

let package = Package(
    name: "Reflex",
    products: [
        .executable(name: "reflex", targets: ["reflex"]),
        .library(name: "ReflexCore", targets: ["ReflexCore"]),
        .library(name: "BridgeProtocol", targets: ["BridgeProtocol"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        // ISA-specific hot loops (int8 GEMM/GEMV, vector math), CPU dispatch, thread pool. C, libc only.
        .target(
            name: "CKernels",
            linkerSettings: [.linkedLibrary("pthread"), .linkedLibrary("m")]
        ),
        // OpenBLAS (cblas_sgemm) for fp32 matrix products.
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // libv4l2 and videodev2.h for camera capture (used by the robot I/O layer).
        .systemLibrary(
            name: "CV4L2",
            pkgConfig: "libv4l2",
            providers: [.apt(["libv4l-dev"])]
        ),
        // Tensors, layers, quantization. Foundation-free: stdlib, Glibc and the C modules only.
        .target(
            name: "ReflexCore",
            dependencies: ["CKernels", "COpenBLAS"]
        ),
        // PNG / JPEG files through libpng and libjpeg-turbo, animated GIF recordings through giflib, video
        // files through FFmpeg (Debian: libpng-dev, libjpeg-dev, libgif-dev, libavformat-dev, libavcodec-dev,
        // libswscale-dev).
        .target(
            name: "CImageCodecs",
            linkerSettings: [.linkedLibrary("png16"), .linkedLibrary("jpeg"), .linkedLibrary("gif"),
                             .linkedLibrary("avformat"), .linkedLibrary("avcodec"), .linkedLibrary("swscale"), .linkedLibrary("avutil")]
        ),
        // Checkpoints: safetensors, config.json, tokenizer.json, weight-name mapping. Uses Foundation.
        .target(
            name: "ReflexModels",
            dependencies: ["ReflexCore", "CKernels", "CImageCodecs"]
        ),
        // The bridge wire protocol (firmware-bridge/PROTOCOL.md). Pure Swift, no Foundation, no
        // allocation: the same sources build the motor-controller firmware under Embedded Swift.
        .target(name: "BridgeProtocol"),
        // The motor controller's logic (limits, watchdog, status, Feetech output), hardware-free so it
        // is unit tested on the host; scripts/firmware.sh builds it into the Embedded Swift firmware.
        .target(
            name: "BridgeFirmware",
            dependencies: ["BridgeProtocol"],
            path: "firmware-bridge/Controller"
        ),
        // Robot I/O: termios serial port and the host side of the bridge. Foundation allowed.
        .target(
            name: "ReflexIO",
            dependencies: ["BridgeProtocol", "ReflexCore", "ReflexSim", "CV4L2", .product(name: "Yams", package: "Yams")]
        ),
        // The deterministic tabletop simulator, its scripted expert and the demonstration format.
        .target(
            name: "ReflexSim",
            dependencies: ["ReflexCore"]
        ),
        // The join between model and robot loop: action sources (VLA, SP-VLA scheduler's generator; sync and
        // async), the pacer, the simulated episode runner and the factory that builds a rig from a profile.
        .target(
            name: "ReflexRuntime",
            dependencies: ["CKernels", "ReflexCore", "ReflexIO", "ReflexModels", "ReflexSim"]
        ),
        // Heap-allocation counter (interposes malloc & co.) for `reflex bench loop`; only the CLI links it.
        .target(name: "CMallocCounter"),
        // The git commit `reflex --version` prints (stamped by scripts/stamp-commit.sh; "unknown" without it).
        .target(name: "CBuildInfo"),
        .executableTarget(
            name: "reflex",
            dependencies: [
                "CBuildInfo",
                "CMallocCounter",
                "ReflexCore",
                "ReflexSim",
                "ReflexModels",
                "ReflexIO",
                "ReflexRuntime",
                "BridgeProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Comparison helpers shared by the test targets.
        .target(
            name: "ReflexTestSupport",
            dependencies: ["ReflexCore"],
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "ReflexCoreTests",
            dependencies: ["ReflexCore", "CKernels", "ReflexTestSupport"]
        ),
        .testTarget(
            name: "ReflexModelsTests",
            dependencies: ["ReflexModels", "ReflexCore", "ReflexTestSupport"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "ReflexSimTests",
            dependencies: ["ReflexSim", "ReflexCore"]
        ),
        .testTarget(
            name: "BridgeProtocolTests",
            dependencies: ["BridgeProtocol"]
        ),
        .testTarget(
            name: "BridgeFirmwareTests",
            dependencies: ["BridgeFirmware", "BridgeProtocol"],
            path: "firmware-bridge/Tests"
        ),
        .testTarget(
            name: "ReflexRuntimeTests",
            dependencies: ["ReflexRuntime", "ReflexIO", "ReflexCore", "ReflexSim", "ReflexModels"]
        ),
        .testTarget(
            name: "ReflexIOTests",
            dependencies: ["ReflexIO", "BridgeProtocol", "BridgeFirmware"]
        ),
    ]
)
