import ArgumentParser
import Foundation
import VaultCore
import VaultFormat
import VaultStorage

struct Renew: ParsableCommand, UsesGlobalOptions {
    static let configuration = CommandConfiguration(
        commandName: "renew",
        abstract: "Renew linked keys through Vision One's API-keys API: create, store, verify, switch, disable the old one.",
        discussion: """
            For each token (linked to its console key, see `vault sync`): creates a console key \
            with the vault's role (or --role) and the same description and lifetime, stores its \
            value as the next version the moment it arrives, checks it with the connectivity \
            endpoint and makes it current. The old console key stays enabled for --disable-after \
            (default 1d) so consumers can switch, then a run disables it, and deletes it \
            --delete-after later. A key is due when its remaining life is under a fifteenth of its \
            lifetime (at least 2 days), at most WINDOW (a 1-month key 2 days before it expires, a \
            1-year key 24). \
            A run first finishes what an interrupted run left (a created key whose value was lost \
            is disabled and deleted — unless anything suggests it is in use: then it is reported \
            and left alone). One daily timer line keeps every integration alive: \
            `vault renew --due 30d`. Since 2025-10-27 new API keys cannot have the Master \
            Administrator role: a legacy key with it needs --role (a custom role that may be \
            assigned to API keys) or `vault edit NAME --role ROLE`.
            Exit 0 when everything due was renewed (or cleaned up), 25 when something failed \
            (the report says what was left where), 26 when nothing was due.
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("Tokens to renew now, whatever their expiry.", valueName: "name"), completion: Completions.tokenNames)
    var names: [String] = []
    @Option(help: ArgumentHelp("Renew every linked token that expires within this window, e.g. 30d.", valueName: "window"))
    var due: String?
    @Option(help: ArgumentHelp("Lifetime of the new keys: 30d, 90d, 180d, 1y or never, mapped onto the console's 1, 3, 6 or 12 months (default: the current lifetime).", valueName: "when"))
    var expires: String?
    @Option(help: ArgumentHelp("The role the new keys get (named tokens only), instead of the vault's; stored as the token's role once renewed.", valueName: "role"))
    var role: String?
    @Option(name: .customLong("disable-after"), help: ArgumentHelp("Keep the old console key enabled this long after its replacement became current, so consumers can switch (0 disables at once).", valueName: "duration"))
    var disableAfter: String = "1d"
    @Option(name: .customLong("delete-after"), help: ArgumentHelp("Delete disabled old console keys this long after they were disabled.", valueName: "duration"))
    var deleteAfter: String = "7d"
    @Option(name: .customLong("verify-timeout"), help: ArgumentHelp("How long to retry the connectivity check of a new key while it propagates.", valueName: "time"))
    var verifyTimeout: String = "60s"
    @Flag(name: .customLong("dry-run"), help: "Say what would be done; call nothing that writes.") var dryRun = false
    @Option(name: .customLong("forget-intent"), help: ArgumentHelp("Resolve an interrupted renewal's intent by hand (audited), e.g. when its base URL has no manager any more; check `vault sync` for a key it may have left.", valueName: "id"))
    var forgetIntent: Int64?
    @Option(help: ArgumentHelp("After the run, write a drop of every renewed key for each recipient that follows it: DIR/RECIPIENT/KEY.age (as `share --followers --outbox DIR`).", valueName: "dir"))
    var publish: String?
    @Flag(help: "Print the report as JSON.") var json = false

    func validate() throws {
        if forgetIntent != nil {
            if !names.isEmpty || due != nil { throw ValidationError("--forget-intent goes alone") }
            return
        }
        if names.isEmpty == (due == nil) { throw ValidationError(names.isEmpty ? "name the tokens to renew, or pass --due WINDOW" : "give token names or --due, not both") }
        if let role {
            if names.isEmpty { throw ValidationError("--role applies to the tokens you name, not to --due") }
            // The same rule as `edit --role`: the vault stores it once the renewal is done.
            guard !role.isEmpty, (try? Validate.text(role, field: "role")) != nil else {
                throw ValidationError("--role must be 1-256 characters without control or bidi characters")
            }
        }
        try InputCheck.tokenNames(names)
        if publish != nil && disableAfter == "0" {
            throw ValidationError("--publish needs a grace period: consumers must have time to receive the new key before the old one is disabled (--disable-after)")
        }
    }

    func run() throws {
        if let id = forgetIntent {
            let vault = try global.openVault()
            let planned = try global.unlock(vault).forgetIntent(id)
            Output.done("forgot renewal intent \(id) (\(planned)); `vault sync` shows whether a key of that name is left in the console")
            return
        }
        var request = RenewRequest()
        request.names = names
        request.due = try due.map(DurationSpec.parse)
        if let expires {
            if expires.lowercased() == "never" { request.neverExpires = true } else { request.expires = try DurationSpec.parse(expires) }
        }
        request.role = role
        request.deleteAfter = try Self.span(deleteAfter)
        request.disableAfter = try Self.span(disableAfter)
        request.verifyTimeout = TimeInterval(try TimeSpan.timeout(verifyTimeout)) / 1000
        request.dryRun = dryRun
        let vault = try global.openVault()
        try vault.store.requireTokens(names)
        let unlocked = try global.unlock(vault)
        let report = try unlocked.renew(request)
        let published = publish.map { dir in Self.publish(report, to: dir, unlocked) } ?? (lines: [], failed: false)
        if json {
            Output.line("[" + report.items.map { i in
                JSONValue.object([("result", .string(i.kind.rawValue)), ("name", i.name.map { .string($0) } ?? .null),
                                  ("from_version", i.fromVersion.map { .int($0) } ?? .null), ("to_version", i.toVersion.map { .int($0) } ?? .null),
                                  ("console_name", i.consoleName.map { .string($0) } ?? .null), ("console_id", i.consoleID.map { .string($0) } ?? .null),
                                  ("expires", .date(i.expires)), ("old_key_disable_after", .date(i.oldKeyDisableAfter)),
                                  ("notes", .array(i.notes.map { .string($0) })), ("message", .string(i.message))]).text
            }.joined(separator: ",") + "]")
        } else {
            for i in report.items where i.kind != .notDue {
                let who = i.name ?? i.consoleName ?? "-"
                let line = "\(i.kind.rawValue): \(who): \(i.message)"
                if i.kind == .failed { Output.warn(line) } else { Output.done(line) }
                for note in i.notes { Output.note("  \(who): \(note)") }
            }
            if report.nothingDone { Output.note("nothing due") }
        }
        for line in published.lines { if published.failed { Output.warn(line) } else { Output.note(line) } }
        if report.failed || published.failed { throw ExitCode(ExitStatus.renewalFailed) }
        if report.nothingDone { throw ExitCode(ExitStatus.nothingDue) }
    }

    /// Writes the drops of every renewed key to its followers in `dir`. A failure is reported
    /// (exit 25); the renewal itself stays.
    static func publish(_ report: RenewReport, to dir: String, _ unlocked: UnlockedVault) -> (lines: [String], failed: Bool) {
        let renewed = report.items.filter { $0.kind == .renewed }.compactMap(\.name)
        guard !renewed.isEmpty else { return ([], false) }
        do throws(VaultError) {
            let drops = try unlocked.share(renewed, to: .followers)
            var lines: [String] = []
            for d in drops {
                let path = try Outbox.write(d.bytes, dir: dir, recipient: d.recipients[0], token: d.tokens[0].name)
                lines.append("published \(d.tokens[0].name) version \(d.tokens[0].version) for \(d.recipients[0]) → \(path)")
            }
            return (lines, false)
        } catch {
            return (["publishing to \(dir) failed: \(error.description); the renewal stands, share by hand: `vault share \(renewed.joined(separator: " ")) --followers --outbox DIR`"], true)
        }
    }

    /// A duration option: `0` or a duration such as 12h, 1d, 2w.
    static func span(_ text: String) throws(VaultError) -> TimeInterval {
        if text == "0" { return 0 }
        return try DurationSpec.parse(text).added(to: Date(timeIntervalSince1970: 0)).timeIntervalSince1970
    }
}
