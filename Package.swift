// swift-tools-version:6.1
import PackageDescription

/// The librdkafka that the binaries load at run time. Debian's `librdkafka-dev` (2.0.2)
/// provides the headers and the link-time library, but it cannot talk to the local broker;
/// `make bootstrap` places librdkafka 2.16 here and the rpath makes every binary load it.
let librdkafkaRuntimeFolder = Context.packageDirectory + "/.deps/librdkafka"

let package = Package(
    name: "Tally",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Kafka", targets: ["Kafka"]),
        .library(name: "Contracts", targets: ["Contracts"]),
        .executable(name: "tally", targets: ["Tally"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        // MARK: librdkafka
        .systemLibrary(
            name: "CRdKafka",
            path: "Libraries/CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        .target(
            name: "Kafka",
            dependencies: [
                "CRdKafka",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            path: "Libraries/Kafka",
            linkerSettings: [
                .unsafeFlags(["-Xlinker", "-rpath", "-Xlinker", librdkafkaRuntimeFolder])
            ]
        ),

        // MARK: Event contracts (the typed side of contracts/)
        .target(name: "Contracts", path: "Libraries/Contracts"),

        // MARK: Operator CLI
        .executableTarget(
            name: "Tally",
            dependencies: [
                "Kafka",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Services/Tally"
        ),

        // MARK: Tests
        .testTarget(
            name: "KafkaTests",
            dependencies: ["Kafka", "CRdKafka"],
            path: "Tests/KafkaTests"
        ),
        .testTarget(
            name: "ContractsTests",
            dependencies: ["Contracts"],
            path: "Tests/ContractsTests"
        ),
        .executableTarget(
            name: "KafkaCrashProbe",
            dependencies: ["Kafka", .product(name: "Logging", package: "swift-log")],
            path: "Tests/KafkaCrashProbe"
        ),
        .testTarget(
            name: "KafkaIntegrationTests",
            dependencies: ["Kafka", "KafkaCrashProbe"],
            path: "Tests/KafkaIntegrationTests"
        ),
    ],
    swiftLanguageModes: [.v6]
)
