import ArgumentParser
import Foundation
import VaultCore
import VaultFormat

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List stored keys (metadata only; no passphrase needed).",
        discussion: """
            PATTERN is a shell glob over the names (quote it): `vault list 'siem*'`, \
            `vault list '*prod*'`; case-sensitive; a word without * ? [ matches only that name. \
            No match is not an error: nothing is listed (JSON: []) and the exit status is 0, \
            as for an empty vault.
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("Only names matching this shell glob (e.g. 'siem*').", valueName: "pattern"))
    var pattern: String?
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let vault = try global.openVault()
        let tokens = try vault.list(matching: pattern)
        let now = vault.clock.now()
        if json {
            Output.line(Output.json(tokens.map { TokenView($0, now: now, warnDays: vault.warnDays) }))
            return
        }
        if tokens.isEmpty, let pattern {
            Output.note("no token matches \(Shell.quote(pattern))")
            if !NamePattern.hasGlob(pattern) { Output.hint("for names containing it: \(Shell.command("vault", "list", "*\(pattern)*"))") }
            return
        }
        if tokens.isEmpty { Output.note("no tokens stored; add one with `vault add NAME`"); return }
        // The console key column appears once any token is linked (`vault renew`, `vault sync`).
        let linked = tokens.contains { $0.current.consoleName != nil || $0.current.consoleID != nil }
        Output.table(["NAME", "REGION", "ROLE", "VERSION", "EXPIRES", "DAYS", "STATUS"] + (linked ? ["CONSOLE KEY"] : []), tokens.map { t in
            [t.name, t.metadata.region?.rawValue ?? t.metadata.baseURL, t.metadata.role ?? "-", "\(t.current.version)",
             Output.expiry(t.current.expires), Output.daysLeft(t.current.expires, now: now),
             t.status(now: now, warnDays: vault.warnDays).rawValue]
                + (linked ? [(t.current.consoleName ?? t.current.consoleID ?? "-") + (t.manager ? " (manager)" : "")] : [])
        })
    }
}

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a key's metadata; --reveal also prints the token (audited).")

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("The key's name.", valueName: "name"), completion: Completions.tokenNames) var name: String
    @Flag(help: "Print JSON.") var json = false
    @Flag(help: "Also print the token (needs the passphrase; audited).") var reveal = false
    @Option(help: ArgumentHelp("With --reveal: a retired version instead of the current one.", valueName: "n")) var version: Int?
    @Flag(name: .customLong("allow-expired"), help: "Reveal even if the version has expired.") var allowExpired = false

    func validate() throws {
        if version != nil, !reveal { throw ValidationError("--version needs --reveal (use `vault history NAME` for metadata of all versions)") }
    }

    func run() throws {
        try Validate.tokenName(name)
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

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "history", abstract: "List every kept version of a key, newest first.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("The key's name.", valueName: "name"), completion: Completions.tokenNames) var name: String
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try Validate.tokenName(name)
        let vault = try global.openVault()
        let versions = try vault.history(name)
        let current = versions.first { $0.retired == nil }?.version
        let views = versions.map { VersionView($0, current: current) }
        if json { Output.line(Output.json(views)); return }
        let linked = views.contains { $0.console_id != nil || $0.console_name != nil }
        Output.table(["VERSION", "CREATED", "EXPIRES", "RETIRED", "STATE"] + (linked ? ["CONSOLE KEY", "IN CONSOLE"] : []), views.map { v in
            ["\(v.version)", Timestamp.iso(v.created), Output.expiry(v.expires), v.retired.map(Timestamp.iso) ?? "-", v.state]
                + (linked ? [v.console_name ?? v.console_id ?? "-", v.console_state ?? "-"] : [])
        })
    }
}

struct Expiring: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "expiring",
        abstract: "List keys that have expired or expire soon (for cron and CI monitors).",
        discussion: "Exit 0: nothing due. Exit 10: some expire within the window. Exit 11: at least one has expired. Prints nothing when nothing is due.")

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("A fixed window, e.g. 30d, 2w, 1y (default: each key's own: V1VAULT_WARN_DAYS, 30 days, or a third of its lifetime if less — as list and export warn).", valueName: "duration"))
    var within: String?
    @Flag(help: "Print JSON.") var json = false

    static let someExpiring: Int32 = 10
    static let someExpired: Int32 = 11

    func run() throws {
        let fixed = try within.map { w throws(VaultError) in try DurationSpec.parse(w) }
        let vault = try global.openVault()
        let now = vault.clock.now()
        // Without --within: each key's own warning window.
        let due = try vault.expiring(within: fixed)
        // Everything returned is due: it has either expired or expires within the window.
        let statuses: [ExpiryStatus] = due.map { $0.current.expires! <= now ? .expired : .expiring }
        if json {
            Output.line(Output.json(zip(due, statuses).map { s, status -> TokenView in
                var v = TokenView(s, now: now, warnDays: vault.warnDays)
                v.status = status
                return v
            }))
        } else if !due.isEmpty {
            Output.table(["NAME", "VERSION", "EXPIRES", "DAYS", "STATUS"], zip(due, statuses).map { t, s in
                [t.name, "\(t.current.version)", Timestamp.iso(t.current.expires!), Output.daysLeft(t.current.expires, now: now), s.rawValue]
            })
        }
        if statuses.contains(.expired) { throw ExitCode(Self.someExpired) }
        if !due.isEmpty { throw ExitCode(Self.someExpiring) }
    }
}
