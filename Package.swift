// swift-tools-version:6.0
import PackageDescription

// Phim: a FastCGI process behind nginx, on libfcgi, SQLite's C API and libcurl.
// libsodium does the cryptography (Argon2id passwords, SHA-256, HMAC, random bytes).
let package = Package(
    name: "phim",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "phim", targets: ["phim"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CFastCGI"),
        .systemLibrary(name: "CSQLite"),
        .systemLibrary(name: "CCurl"),
        .systemLibrary(name: "CSodium"),
        .systemLibrary(name: "CQREncode"),
        // Shared by every layer: the clock, locks, threads, logging and libsodium's cryptography.
        .target(
            name: "PhimSupport",
            dependencies: ["CSodium"],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        // The provider: Kie's wire format, the libcurl client and the simulator.
        .target(
            name: "PhimProvider",
            dependencies: ["CCurl", "PhimSupport"],
            resources: [.copy("Simulator/Media")],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        // The domain: accounts, the ledger, jobs and the reconciler, the model catalog, on SQLite.
        .target(
            name: "PhimCore",
            dependencies: ["CSQLite", "CQREncode", "PhimSupport", "PhimProvider"],
            resources: [.copy("Catalog/shipped-models.json")],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        // The web side: the FastCGI loop, the route table and the handlers.
        .target(
            name: "PhimServer",
            dependencies: ["CFastCGI", "PhimSupport", "PhimCore", "PhimProvider"],
            resources: [.copy("Messages"), .copy("OpenAPI")],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        .executableTarget(
            name: "phim",
            dependencies: [
                "PhimServer", "PhimCore", "PhimProvider", "PhimSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        // The benchmark's tools (data seeding, the raw commit rate); built only by Tests/Benchmarks/run.sh.
        .executableTarget(
            name: "PhimBench",
            dependencies: [
                "PhimCore", "PhimSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tests/Benchmarks/PhimBench",
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        .testTarget(
            name: "PhimProviderTests",
            dependencies: ["PhimProvider", "PhimSupport"],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        .testTarget(
            name: "PhimCoreTests",
            dependencies: ["PhimCore", "PhimServer", "PhimProvider", "PhimSupport"],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
    ]
)
