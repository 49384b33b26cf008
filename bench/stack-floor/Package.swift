// swift-tools-version: 6.1
// The start-up floor of v1vault's mandated stack, for scripts/bench: ArgumentParser parsing one
// subcommand, GRDB opening a WAL database and committing one row (synchronous = FULL), nothing
// else. No crypto, no vault logic. Same package versions and link flags as vault.
import PackageDescription

let package = Package(
    name: "stack-floor",
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
    ],
    targets: [
        .executableTarget(
            name: "stackfloor",
            dependencies: [
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
    ]
)
