import ArgumentParser
import Foundation
import VaultCore
import VaultFormat
import VaultStorage

/// Dynamic shell completion: key names from the vault (read-only, no passphrase, nothing
/// written, not even an audit row), regions from the list v1vault knows.
enum Completions {
    static let tokenNames = CompletionKind.custom { words, _, prefix in
        VaultStore.acceptedTokenNames(at: vaultPath(words)).filter { $0.hasPrefix(prefix) }
    }

    static let regions = CompletionKind.list(Region.allCases.map(\.rawValue))

    /// The vault the command line being completed names: --vault PATH or --vault=PATH, else
    /// $V1VAULT_PATH, else the default.
    static func vaultPath(_ words: [String]) -> String {
        var explicit: String?
        for (i, w) in words.enumerated() {
            if w == "--vault", i + 1 < words.count { explicit = words[i + 1] }
            if w.hasPrefix("--vault=") { explicit = String(w.dropFirst("--vault=".count)) }
        }
        return GlobalOptions.path(explicit: explicit, ProcessInfo.processInfo.environment)
    }
}
