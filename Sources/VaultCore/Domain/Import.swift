import Foundation
import VaultFormat
import VaultStorage

extension UnlockedVault {
    /// Adds every entry as version 1 of a new token in one transaction: all or nothing. An
    /// invalid or duplicate entry throws an error naming its line. An entry's console link is
    /// checked as `add --console-id` checks it (its console key linked to no other token, in
    /// the vault or earlier in the input), and a manager mark must leave every base URL with
    /// at most one manager: an entry marked for a base URL that already has one here, or a
    /// second marked entry for the same base URL, refuses the whole import (`invalidInput`).
    @discardableResult
    public func importTokens(_ entries: [ImportEntry], source: String = "api",
                             progress: ((Int) -> Void)? = nil) throws(VaultError) -> Int {
        var seen = Set<String>()
        var markedFor: [String: String] = [:]  // base URL → the entry marked as its manager
        var links: [ConsoleLink] = []
        for e in entries {
            do throws(VaultError) {
                try Validate.tokenName(e.name)
                try TokenInput.validate(e.token)
            } catch {
                throw .invalidInput(reason: "\(e.at)\(error)", hint: nil)
            }
            do throws(VaultError) {
                links.append(try Self.consoleLink(e))
            } catch {
                throw .invalidInput(reason: "\(e.at)\(error)", hint: error.hint)
            }
            guard seen.insert(e.name).inserted else {
                throw .invalidInput(reason: "\(e.at)duplicate name \(e.name) in the input", hint: nil)
            }
            if e.manager {
                if let other = markedFor[e.metadata.baseURL] {
                    throw .invalidInput(reason: "\(e.at)\(other) and \(e.name) are both marked as the manager key for \(e.metadata.baseURL)",
                                        hint: "one manager per base URL: remove \"manager\": true from one of them; nothing was imported")
                }
                markedFor[e.metadata.baseURL] = e.name
            }
        }
        let now = Timestamp.seconds(self.now)
        var scratch = SecureBytes(capacity: 4096, empty: true)
        var details = ["count": "\(entries.count)", "source": source]
        let managers = entries.filter(\.manager).map(\.name)
        if !managers.isEmpty { details["manager"] = managers.joined(separator: ",") }
        let linked = links.filter { $0.id != nil }.count
        if linked > 0 { details["linked"] = "\(linked)" }
        return try perform("import", subjects: [], details: details) { w in
            let db = w.db
            // All names at once (an IN list would hit SQLite's variable limit at 32,766).
            let existing = Set(try TokenRecord.allNames(db))
            // The raw column is enough to refuse: a forged mark can only make the import fail.
            let existingManagers = try TokenRecord.managerNamesByBaseURL(db)
            for (i, (e, link)) in zip(entries, links).enumerated() {
                if let progress, i % 500 == 0 { progress(i) }
                if existing.contains(e.name) {
                    throw VaultError.invalidInput(reason: "\(e.at)a token named \(e.name) already exists", hint: "nothing was imported")
                }
                if e.manager, let current = existingManagers[e.metadata.baseURL] {
                    throw VaultError.invalidInput(reason: "\(e.at)\(e.name) is marked as the manager key for \(e.metadata.baseURL), which already has one here: \(current)",
                                                  hint: "one manager per base URL; nothing was imported: \(Shell.command("vault", "manager", "unset", current)) first, or import without the mark and choose later with `vault manager set`")
                }
                var record = TokenRecord(id: nil, name: e.name, region: e.metadata.region?.rawValue, baseUrl: e.metadata.baseURL,
                                         role: e.metadata.role, description: e.metadata.description,
                                         permissions: JSONText.array(e.metadata.permissions), createdAt: now, metaMac: nil)
                record.manager = e.manager
                try record.insertRow(db)
                try sealMetadata(db, &record)
                if let id = link.id {
                    do { try checkConsoleIDFree(db, id, tokenID: record.id!) } catch let error as VaultError {
                        throw VaultError.invalidInput(reason: "\(e.at)\(error)", hint: "\(error.hint.map { $0 + "; " } ?? "")nothing was imported")
                    }
                }
                _ = try e.token.withUnsafeBytes { raw in
                    try insertVersion(db, tokenID: record.id!, version: 1, token: raw, expires: e.expires, scratch: &scratch, console: link)
                }
                try sealState(w, &record)
            }
            // The row names every token: each one's state MAC names this row (freshness check).
            w.subjects = entries.map { AuditSubject(name: $0.name, version: 1) }
            return entries.count
        }
    }

    /// An import entry's console link, checked exactly as `add --console-id/--console-name`
    /// checks one (`checkLink`) and, as there, enabled unless `console_state` says otherwise;
    /// a state without a console id is refused. Whether the id is free is the transaction's
    /// question (`checkConsoleIDFree`).
    static func consoleLink(_ e: ImportEntry) throws(VaultError) -> ConsoleLink {
        var link = ConsoleLink(id: e.consoleID, name: e.consoleName)
        try checkLink(link)
        if let s = e.consoleState {
            guard let state = ConsoleLink.State(rawValue: s) else {
                throw .invalidInput(reason: "console_state must be enabled, disabled or deleted", hint: nil)
            }
            guard link.id != nil else { throw .invalidInput(reason: "console_state without console_id", hint: nil) }
            link.state = state
        } else if link.id != nil {
            link.state = .enabled
        }
        return link
    }
}
