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
        .target(
            name: "VaultCore",
            dependencies: [
                "CSodium",
                "CHTTP",
                "CKeyring",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: upcoming
        ),
        .executableTarget(
            name: "vault",
            dependencies: [
                "VaultCore",
                "CBuildInfo",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "VaultCoreTests",
            dependencies: [
                "VaultCore",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "VaultCLITests",
            dependencies: [
                "VaultCore",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: upcoming
        ),
    ]
)
