import ArgumentParser
import Foundation
import VaultCore
import VaultFormat

struct Show: ParsableCommand, UsesGlobalOptions, NamesOneToken {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a key's metadata; --reveal also prints the token (audited).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var token: TokenNameArgument
    @Flag(help: "Print JSON.") var json = false
    @Flag(help: "Also print the token (needs the passphrase; audited).") var reveal = false
    @Option(help: ArgumentHelp("With --reveal: a retired version instead of the current one.", valueName: "n")) var version: Int?
    @Flag(name: .customLong("allow-expired"), help: "Reveal even if the version has expired.") var allowExpired = false

    func validate() throws {
        if version != nil, !reveal { throw ValidationError("--version needs --reveal (use `vault history NAME` for metadata of all versions)") }
    }

    func run() throws {
        let vault = try global.openVault()
        let summary = try vault.show(name, audited: !reveal)
        let now = vault.clock.now()
        var revealed: RevealedToken?
        if reveal {
            let unlocked = try global.unlock(vault)
            revealed = try unlocked.reveal(name, version: version, allowExpired: allowExpired, action: "reveal")
            if let w = revealed?.warning { Output.warn(w) }
        }
        let view = TokenView(summary, now: now, warnDays: vault.warnDays)
        if json {
            var text = Output.json(view)
            if let r = revealed {
                // Splice the token into the JSON from secure memory; tokens are printable ASCII
                // without whitespace, so only '"' and '\' need escaping.
                // The encoder's compact object ends with "}"; anything else is a bug, not input.
                guard text.hasSuffix("}") else { throw VaultError.io(reason: "internal error: unexpected JSON layout") }
                text.removeLast(1)
                print(Sanitize.display(text, keepNewlines: true) + ",\"revealed_version\":\(r.version),\"token\":\"", terminator: "")
                var escaped = SecureBytes(capacity: r.secret.count * 2, empty: true)
                for i in 0..<r.secret.count {
                    let b = r.secret[i]
                    if b == 0x22 || b == 0x5C { escaped.append(0x5C) }
                    escaped.append(b)
                }
                try Output.writeSecret(escaped)
                print("\"}")
            } else {
                Output.line(text)
            }
            return
        }
        var rows: [(String, String)] = [
            ("name", view.name), ("region", view.region ?? "custom"), ("base url", view.base_url),
            ("role", view.role ?? "-"), ("description", view.description ?? "-"),
            ("permissions", view.permissions.isEmpty ? "-" : view.permissions.joined(separator: ", ")),
            ("created", Timestamp.iso(view.created)), ("version", "\(view.version) of \(view.versions) kept"),
            ("expires", Output.expiry(view.expires) + (view.days_left.map { " (\($0) days left)" } ?? "")),
            ("status", view.status.rawValue + (view.warn_days.map { " (warns \($0) days before)" } ?? "")),
        ]
        if view.console_id != nil || view.console_name != nil {
            rows.append(("console key", [view.console_name, view.console_id.map { "id \($0)" }].compactMap { $0 }.joined(separator: ", ")))
        }
        if view.manager { rows.append(("manager", "yes: renew and sync use it for \(view.base_url)")) }
        if let r = revealed, r.version != view.version { rows.append(("revealed version", "\(r.version)")) }
        // One line per field: a value read from the file cannot start a line of its own.
        for (k, v) in rows { Output.line(k.padded(to: 17) + Sanitize.display(v)) }
        if let r = revealed {
            print("token".padded(to: 17), terminator: "")
            try Output.writeSecret(r.secret)
            print("")
        }
    }
}
