import ArgumentParser
import Foundation
import VaultCore

struct Renew: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "renew",
        abstract: "Renew linked keys through Vision One's API-keys API: create, store, verify, switch, disable the old one.",
        discussion: """
            For each token (linked to its console key, see `vault sync`): creates a console key \
            with the same role and description and the same lifetime, stores its value as the \
            next version the moment it arrives, checks it with the connectivity endpoint, makes \
            it current, then disables the old console key; a later run deletes disabled keys \
            after --delete-after. A run first finishes what an interrupted run left (a created \
            key whose value was lost is disabled and deleted). One daily timer line keeps every \
            integration alive: `v1vault renew --due 30d`.
            Exit 0 when everything due was renewed (or cleaned up), 25 when something failed \
            (the report says what was left where), 26 when nothing was due.
            """)

    static let someFailed: Int32 = 25
    static let nothingDue: Int32 = 26

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("Tokens to renew now, whatever their expiry.", valueName: "name"), completion: Completions.tokenNames)
    var names: [String] = []
    @Option(help: ArgumentHelp("Renew every linked token that expires within this window, e.g. 30d.", valueName: "window"))
    var due: String?
    @Option(help: ArgumentHelp("Lifetime of the new keys: 30d, 90d, 180d, 1y or never, mapped onto the console's 1, 3, 6 or 12 months (default: the current lifetime).", valueName: "when"))
    var expires: String?
    @Option(name: .customLong("delete-after"), help: ArgumentHelp("Delete disabled old console keys this long after they were replaced.", valueName: "duration"))
    var deleteAfter: String = "7d"
    @Option(name: .customLong("verify-timeout"), help: ArgumentHelp("How long to retry the connectivity check of a new key while it propagates.", valueName: "time"))
    var verifyTimeout: String = "60s"
    @Flag(name: .customLong("dry-run"), help: "Say what would be done; call nothing that writes.") var dryRun = false
    @Option(name: .customLong("forget-intent"), help: ArgumentHelp("Resolve an interrupted renewal's intent by hand (audited), e.g. when its base URL has no manager any more; check `vault sync` for a key it may have left.", valueName: "id"))
    var forgetIntent: Int64?
    @Flag(help: "Print the report as JSON.") var json = false

    func validate() throws {
        if forgetIntent != nil {
            if !names.isEmpty || due != nil { throw ValidationError("--forget-intent goes alone") }
            return
        }
        if names.isEmpty == (due == nil) { throw ValidationError(names.isEmpty ? "name the tokens to renew, or pass --due WINDOW" : "give token names or --due, not both") }
    }

    func run() throws {
        if let id = forgetIntent {
            let vault = try global.openVault()
            let planned = try global.unlock(vault).forgetIntent(id)
            Output.done("forgot renewal intent \(id) (\(planned)); `vault sync` shows whether a key of that name is left in the console")
            return
        }
        for n in names { try Validate.tokenName(n) }
        var request = RenewRequest()
        request.names = names
        request.due = try due.map(DurationSpec.parse)
        if let expires {
            if expires.lowercased() == "never" { request.neverExpires = true } else { request.expires = try DurationSpec.parse(expires) }
        }
        let after = try DurationSpec.parse(deleteAfter)
        request.deleteAfter = after.added(to: Date(timeIntervalSince1970: 0)).timeIntervalSince1970
        request.verifyTimeout = TimeInterval(try TimeSpan.timeout(verifyTimeout)) / 1000
        request.dryRun = dryRun
        let vault = try global.openVault()
        try vault.store.requireTokens(names)
        let report = try global.unlock(vault).renew(request)
        if json {
            Output.line("[" + report.items.map { i in
                JSONValue.object([("result", .string(i.kind.rawValue)), ("name", i.name.map { .string($0) } ?? .null),
                                  ("from_version", i.fromVersion.map { .int($0) } ?? .null), ("to_version", i.toVersion.map { .int($0) } ?? .null),
                                  ("console_name", i.consoleName.map { .string($0) } ?? .null), ("console_id", i.consoleID.map { .string($0) } ?? .null),
                                  ("expires", .date(i.expires)), ("message", .string(i.message))]).text
            }.joined(separator: ",") + "]")
        } else {
            for i in report.items where i.kind != .notDue {
                let who = i.name ?? i.consoleName ?? "-"
                let line = "\(i.kind.rawValue): \(who): \(i.message)"
                if i.kind == .failed { Output.warn(line) } else { Output.done(line) }
            }
            let due = report.items.filter { $0.kind != .notDue }
            if due.isEmpty { Output.note("nothing due") }
        }
        if report.failed { throw ExitCode(Self.someFailed) }
        if report.nothingDone { throw ExitCode(Self.nothingDue) }
    }
}
