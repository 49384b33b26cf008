import ArgumentParser
import Foundation
import VaultCore

struct KDFCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kdf",
        abstract: "Measure Argon2id here and change the vault's unlock cost.",
        subcommands: [KDFBenchmark.self, KDFSet.self])
}
