import ArgumentParser
import Foundation
import VaultCore

/// Dynamic shell completion: key names from the vault (read-only, no passphrase, nothing
/// written, not even an audit row), regions from the list v1vault knows.
enum Completions {
    static let tokenNames = CompletionKind.custom { words, _, prefix in
        guard let store = try? VaultStore.open(at: vaultPath(words), readonly: true),
              let names = try? store.tokenNames() else { return [] }
        store.close()
        return names.filter { $0.hasPrefix(prefix) && (try? Validate.tokenName($0)) != nil }
    }

    static let regions = CompletionKind.list(Region.allCases.map(\.rawValue))

    /// The vault the command line being completed names: --vault PATH or --vault=PATH, else
    /// $V1VAULT_PATH, else the default.
    static func vaultPath(_ words: [String]) -> String {
        for (i, w) in words.enumerated() {
            if w == "--vault", i + 1 < words.count { return words[i + 1] }
            if w.hasPrefix("--vault=") { return String(w.dropFirst("--vault=".count)) }
        }
        let env = ProcessInfo.processInfo.environment
        if let p = env["V1VAULT_PATH"], !p.isEmpty { return p }
        return GlobalOptions.defaultDirectory(env) + "/vault.db"
    }
}
