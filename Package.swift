// swift-tools-version:6.1
import PackageDescription

/// The librdkafka that the binaries load at run time. Debian's `librdkafka-dev` (2.0.2)
/// provides the headers and the link-time library, but it cannot talk to the local broker;
/// `make bootstrap` places librdkafka 2.16 here and the rpath makes every binary load it.
let librdkafkaRuntimeFolder = Context.packageDirectory + "/.deps/librdkafka"

/// What one service needs beyond what every service gets: finance calls providers' refund APIs;
/// notifications speaks SMTP on SwiftNIO (with STARTTLS) and calls HTTP endpoints; billing writes
/// its answers as canonical JSON into NIO buffers.
let extraServiceDependencies: [String: [Target.Dependency]] = [
    "Billing": [.product(name: "NIOCore", package: "swift-nio")],
    "Finance": [
        .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "HTTPTypes", package: "swift-http-types"),
    ],
    "Notifications": [
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "NIOTLS", package: "swift-nio"),
    ],
]

/// The seven services: one executable each, named as in `ops/services.txt`.
let services: [(target: String, executable: String)] = [
    ("IngestGateway", "ingest-gateway"),
    ("Normalizer", "normalizer"),
    ("Billing", "billing"),
    ("Finance", "finance"),
    ("Privacy", "privacy"),
    ("Notifications", "notifications"),
    ("Reconciliation", "reconciliation"),
]

let package = Package(
    name: "Tally",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Kafka", targets: ["Kafka"]),
        .library(name: "Contracts", targets: ["Contracts"]),
        .library(name: "Storage", targets: ["Storage"]),
        .library(name: "ServiceRuntime", targets: ["ServiceRuntime"]),
        .executable(name: "tally", targets: ["Tally"]),
    ] + services.map { .executable(name: $0.executable, targets: [$0.target]) },
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
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

        // MARK: Webhook signature schemes (Stripe, Paddle, Standard Webhooks, Hotmart)
        .target(
            name: "WebhookSignatures",
            dependencies: ["Contracts", .product(name: "Crypto", package: "swift-crypto")],
            path: "Libraries/WebhookSignatures"
        ),

        // MARK: PostgreSQL: migrations, tenancy, outbox and inbox
        .target(
            name: "Storage",
            dependencies: [
                "Kafka", "Contracts",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Libraries/Storage"
        ),

        // MARK: What every service process shares: config, HTTP, health, metrics, auth, lifecycle
        .target(
            name: "ServiceRuntime",
            dependencies: [
                "Kafka", "Contracts", "Storage",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            path: "Libraries/ServiceRuntime"
        ),

        // MARK: Operator CLI
        .executableTarget(
            name: "Tally",
            dependencies: [
                "Kafka", "Contracts", "Storage", "ServiceRuntime", "WebhookSignatures",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "Services/Tally"
        ),

        // MARK: Tests
        .testTarget(
            name: "WebhookSignaturesTests",
            dependencies: ["WebhookSignatures", "Contracts", .product(name: "Crypto", package: "swift-crypto")],
            path: "Tests/WebhookSignaturesTests",
            exclude: ["provider_signer.py"]
        ),
        .target(
            name: "TallyTestSupport",
            dependencies: [
                "Storage", "Kafka", "Contracts", "ServiceRuntime",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "StorageTests",
            dependencies: ["Storage", "Kafka", "Contracts", "TallyTestSupport", .product(name: "PostgresNIO", package: "postgres-nio")],
            path: "Tests/StorageTests"
        ),
        .testTarget(
            name: "NormalizerTests",
            dependencies: [
                "Normalizer", "Contracts", "Storage", "Kafka", "ServiceRuntime", "TallyTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            path: "Tests/NormalizerTests",
            exclude: ["Golden"]
        ),
        .testTarget(
            name: "IngestGatewayTests",
            dependencies: [
                "IngestGateway", "Storage", "ServiceRuntime", "WebhookSignatures", "Contracts", "TallyTestSupport", "Kafka",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Tests/IngestGatewayTests"
        ),
        .testTarget(
            name: "ReconciliationTests",
            dependencies: [
                "Reconciliation", "Contracts", "Storage", "Kafka", "ServiceRuntime", "TallyTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            path: "Tests/ReconciliationTests"
        ),
        .testTarget(
            name: "FinanceTests",
            dependencies: [
                "Finance", "Contracts", "Storage", "Kafka", "ServiceRuntime", "TallyTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "PropertyBased", package: "swift-property-based"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Tests/FinanceTests"
        ),
        .testTarget(
            name: "NotificationsTests",
            dependencies: [
                "Notifications", "Contracts", "Storage", "Kafka", "ServiceRuntime", "TallyTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            path: "Tests/NotificationsTests"
        ),
        .testTarget(
            name: "BillingTests",
            dependencies: [
                "Billing", "Contracts", "Storage", "Kafka", "ServiceRuntime", "TallyTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            path: "Tests/BillingTests"
        ),
        .testTarget(
            name: "ServiceRuntimeTests",
            dependencies: ["ServiceRuntime", "Contracts", .product(name: "HummingbirdTesting", package: "hummingbird")],
            path: "Tests/ServiceRuntimeTests"
        ),
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

package.targets += services.map { service in
    .executableTarget(
        name: service.target,
        dependencies: [
            "ServiceRuntime", "Storage", "Kafka", "Contracts", "WebhookSignatures",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ] + (extraServiceDependencies[service.target] ?? []),
        path: "Services/\(service.target)",
        resources: [.copy("Migrations")]
    )
}
