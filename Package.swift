// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "bank-cluster",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "bank-gateway", targets: ["bank-gateway"]),
        .executable(name: "bank-ledger", targets: ["bank-ledger"]),
        .executable(name: "bankctl", targets: ["bankctl"]),
        .executable(name: "bank-sim", targets: ["bank-sim"]),
        .executable(name: "bank-bench", targets: ["bank-bench"]),
        .executable(name: "bank-fuzz", targets: ["bank-fuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.0.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // libzmq, found through pkg-config; `make` installs libzmq3-dev when it is missing.
        .systemLibrary(
            name: "CZeroMQ",
            pkgConfig: "libzmq",
            providers: [.apt(["libzmq3-dev"])]
        ),
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ"]),
        // LevelDB (Debian ships no pkg-config file for it); `make` installs libleveldb-dev when it is missing.
        .systemLibrary(name: "CLevelDB", providers: [.apt(["libleveldb-dev"])]),
        // Zstandard, found through pkg-config; `make` installs libzstd-dev when it is missing.
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        // The history store: receipts and closed holds that left the ledger's memory (LevelDB, chunks compressed
        // with Zstandard).
        .target(name: "HistoryStore", dependencies: ["BankCore", "CLevelDB", "CZstd"]),
        // glibc's malloc tuning: the ledger gives freed heap back to the system (Runtime's HeapReturn).
        .systemLibrary(name: "CMalloc"),
        // Linux file calls the Glibc module leaves out (sync_file_range: the checkpoint's write-back).
        .systemLibrary(name: "CLinuxIO"),
        // The three processes of a local cluster, started and killed by the process-level tests and the bench.
        .target(name: "LocalCluster"),
        // SplitMix64: seeded randomness that replays exactly (simulator, generated test workloads, benchmark).
        .target(name: "SeededRandom"),
        // Pure rules: accounts, transfers, holds. No I/O.
        .target(name: "BankCore", dependencies: [.product(name: "DequeModule", package: "swift-collections")]),
        // Client wire format: JSON codec, request decoding, reply encoding, error codes.
        .target(name: "BankProtocol", dependencies: ["BankCore"]),
        // Journal records (hash-chained), the file journal and the node's metadata file.
        .target(name: "Storage", dependencies: ["CLinuxIO", .product(name: "Crypto", package: "swift-crypto")]),
        // Pure state machines: ledger replication and the gateway's election logic.
        .target(name: "Cluster", dependencies: [
            "BankCore", "BankProtocol", "Storage", .product(name: "DequeModule", package: "swift-collections"),
        ]),
        // The cluster's named processes and how they reach each other (the cluster file's `processes`).
        .target(name: "Topology", dependencies: ["Cluster"]),
        // Prometheus metrics (swift-metrics, swift-prometheus) served over HTTP (SwiftNIO) by every process.
        .target(name: "Telemetry", dependencies: [
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        // Who belongs to the bank: CURVE key files, the allow-list a ZAP handler consults, client roles' user ids.
        .target(name: "Membership", dependencies: ["BankProtocol", "Cluster", "ZeroMQ"]),
        // Thin drivers: ZeroMQ event loops that carry out the state machines' actions.
        .target(name: "Runtime", dependencies: [
            "Cluster", "Topology", "ZeroMQ", "Storage", "BankProtocol", "HistoryStore", "CMalloc", "Telemetry", "Membership",
            "BankCore",
            .product(name: "Logging", package: "swift-log"), .product(name: "CoreMetrics", package: "swift-metrics"),
        ]),
        // Deterministic simulation: the real state machines against a simulated network, disk and clock.
        .target(name: "Simulation", dependencies: [
            "Cluster", "BankCore", "BankProtocol", "Storage", "SeededRandom",
            .product(name: "HeapModule", package: "swift-collections"),
            .product(name: "DequeModule", package: "swift-collections"),
        ]),
        .executableTarget(name: "bank-sim", dependencies: [
            "Simulation", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "bank-gateway", dependencies: [
            "Runtime", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "bank-ledger", dependencies: [
            "Runtime", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "bankctl", dependencies: [
            "ZeroMQ", "BankCore", "BankProtocol", "Membership", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Benchmark: starts its own cluster, measures throughput, latency, failover and catch-up (`make bench`).
        .executableTarget(name: "bank-bench", dependencies: [
            "ZeroMQ", "BankProtocol", "Runtime", "Topology", "SeededRandom", "LocalCluster", "Membership",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Histogram", package: "hdrhistogram-swift"),
        ]),
        // Fuzzing (make fuzz): the decoders of outside bytes as targets, libFuzzer's driver entry (weak: an
        // ordinary build links without libFuzzer), and the program that runs them.
        .target(name: "FuzzTargets", dependencies: ["BankCore", "BankProtocol", "Cluster", "Storage", "Runtime"]),
        .target(name: "CFuzzDriver"),
        .executableTarget(name: "bank-fuzz", dependencies: ["FuzzTargets", "CFuzzDriver"]),
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ"]),
        .testTarget(name: "FuzzTargetsTests", dependencies: ["FuzzTargets", "BankCore", "BankProtocol", "Cluster", "Storage", "Runtime"],
                    exclude: ["Corpus"]),
        .testTarget(name: "BankCoreTests", dependencies: ["BankCore", "SeededRandom"]),
        .testTarget(name: "BankProtocolTests", dependencies: ["BankProtocol", "SeededRandom"]),
        .testTarget(name: "StorageTests", dependencies: ["Storage", "SeededRandom"]),
        .testTarget(name: "HistoryStoreTests", dependencies: ["HistoryStore", "BankCore", "CLevelDB"]),
        .testTarget(name: "ClusterTests", dependencies: ["Cluster"]),
        .testTarget(name: "TopologyTests", dependencies: ["Topology", "Runtime", "LocalCluster"]),
        .testTarget(name: "TelemetryTests", dependencies: ["Telemetry"]),
        .testTarget(name: "MembershipTests", dependencies: ["Membership", "BankProtocol", "Cluster", "ZeroMQ"]),
        .testTarget(name: "SimulationTests", dependencies: ["Simulation"]),
        .testTarget(name: "EndToEndTests", dependencies: [
            "ZeroMQ", "BankProtocol", "Runtime", "SeededRandom", "LocalCluster", "Membership", "Cluster", "BankCore",
            "Storage",
        ]),
    ],
    swiftLanguageModes: [.v6]
)
