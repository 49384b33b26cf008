// swift-tools-version: 6.1
import PackageDescription

/// The version of v1vault: set here and nowhere else (`vault --version`, scripts/package).
let version = "0.3.0"

/// The commit the binary is built from: scripts/build-release passes V1VAULT_COMMIT (a hex
/// id, "-dirty" when the tree has changes); anything else is ignored.
let commit: String = {
    let c = Context.environment["V1VAULT_COMMIT"] ?? ""
    let ok = !c.isEmpty && c.count <= 48 && c.allSatisfy { "0123456789abcdef-dirty".contains($0) }
    return ok ? c : "unknown"
}()

let upcoming: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "v1vault",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "vault", targets: ["vault"]),
        .library(name: "VaultCore", targets: ["VaultCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        .target(
            name: "CHTTP",
            linkerSettings: [.linkedLibrary("dl")]
        ),
        .target(name: "CKeyring"),
        .target(
            name: "CBuildInfo",
            cSettings: [.define("V1VAULT_VERSION", to: "\"\(version)\""), .define("V1VAULT_COMMIT", to: "\"\(commit)\"")]
        ),
        // The format layer: crypto, MAC layouts, the rows as values, encodings and parsers. No
        // GRDB and no I/O: what the fuzzers build (scripts/fuzz compiles this target's sources).
        .target(
            name: "VaultFormat",
            dependencies: ["CSodium"],
            swiftSettings: upcoming
        ),
        // The Vision One client: the API's models and answers, behind the `ConsoleClient`
        // protocol, and the HTTP exchange (libcurl through dlopen).
        .target(
            name: "VisionOne",
            dependencies: ["VaultFormat", "CHTTP"],
            swiftSettings: upcoming
        ),
        // Storage: the only target that imports GRDB. The vault file (opened as hostile input),
        // its records decoded strictly, the schema check, the embedded migrations, and every
        // SQL statement as a named function.
        .target(
            name: "VaultStorage",
            dependencies: [
                "VaultFormat",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: upcoming
        ),
        // The use cases: the audited transaction, the token resolver, renewal, sync, sessions,
        // exec, the clipboard.
        .target(
            name: "VaultCore",
            dependencies: [
                "VaultFormat",
                "VisionOne",
                "VaultStorage",
                "CSodium",
                "CKeyring",
            ],
            swiftSettings: upcoming
        ),
        .executableTarget(
            name: "vault",
            dependencies: [
                "VaultCore",
                "VaultFormat",
                "VisionOne",
                "VaultStorage",
                "CBuildInfo",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: upcoming
        ),
        // What both test targets share: set-up failures as thrown errors.
        .target(
            name: "TestSupport",
            path: "Tests/TestSupport",
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "VaultCoreTests",
            dependencies: [
                "VaultCore",
                "VaultFormat",
                "VisionOne",
                "VaultStorage",
                "TestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "VaultCLITests",
            dependencies: [
                "VaultCore",
                "VaultFormat",
                "VisionOne",
                "VaultStorage",
                "TestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: upcoming
        ),
    ]
)
