import ArgumentParser
import Foundation
import VaultCore
import VaultFormat

struct AuditList: ParsableCommand, UsesGlobalOptions {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "Show audit entries, newest last (the default for `vault audit`).")

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Only entries naming this key.", valueName: "name")) var token: String?
    @Option(help: ArgumentHelp("Only this action (add, reveal, export, rotate, unlock, …).", valueName: "action")) var action: String?
    @Option(help: ArgumentHelp("From this date or time (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, UTC).", valueName: "date")) var since: String?
    @Option(help: ArgumentHelp("Before this date or time.", valueName: "date")) var until: String?
    @Option(help: ArgumentHelp("Only the newest N entries.", valueName: "n")) var limit: Int?
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        func date(_ s: String?, _ flag: String) throws -> Date? {
            guard let s else { return nil }
            guard let d = Timestamp.parseDate(s) else {
                throw VaultError.invalidInput(reason: "invalid \(flag) date \"\(s.prefix(40))\"", hint: "use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ")
            }
            return d
        }
        if let l = limit, l < 1 { throw ValidationError("--limit must be at least 1") }
        let query = AuditQuery(token: token, action: action, since: try date(since, "--since"), until: try date(until, "--until"), limit: limit)
        let vault = try global.openVault()
        let entries = try vault.auditEntries(query)
        try vault.recordUnsealed(action: "audit", details: ["shown": "\(entries.count)"])
        if json { Output.line(Output.json(entries)); return }
        Output.table(["SEQ", "TIME", "ACTION", "TOKENS", "OUTCOME", "ACTOR", "DETAILS"], entries.map { e in
            let tokens = e.tokens.map { s in s.version.map { "\(s.name)@\($0)" } ?? s.name }.joined(separator: ",")
            var details = e.details.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            if let r = e.reason { details.insert("reason=\(r)", at: 0) }
            return ["\(e.seq)\(e.sealed ? "" : "*")", e.at, e.action, tokens.isEmpty ? "-" : tokens, e.outcome,
                    "\(e.user)@\(e.host)[\(e.pid)]", details.joined(separator: " ")]
        })
        if entries.contains(where: { !$0.sealed }) {
            Output.note("* not yet sealed into the chain (written without the key; sealed at the next unlock)")
        }
    }
}
