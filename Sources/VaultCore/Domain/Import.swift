import Foundation
import GRDB

extension UnlockedVault {
    /// Adds every entry as version 1 of a new token in one transaction: all or nothing. An
    /// invalid or duplicate entry throws an error naming its line.
    @discardableResult
    public func importTokens(_ entries: [ImportEntry], source: String = "api",
                             progress: ((Int) -> Void)? = nil) throws(VaultError) -> Int {
        var seen = Set<String>()
        for e in entries {
            do throws(VaultError) {
                try Validate.tokenName(e.name)
                try TokenInput.validate(e.token)
            } catch {
                throw .invalidInput(reason: "\(e.at)\(error)", hint: nil)
            }
            guard seen.insert(e.name).inserted else {
                throw .invalidInput(reason: "\(e.at)duplicate name \(e.name) in the input", hint: nil)
            }
        }
        let now = Timestamp.seconds(self.now)
        var scratch = SecureBytes(capacity: 4096, empty: true)
        return try perform("import", subjects: [], details: ["count": "\(entries.count)", "source": source]) { w in
            let db = w.db
            // All names at once (an IN list would hit SQLite's variable limit at 32,766).
            let existing = Set(try String.fetchAll(db, sql: "SELECT name FROM tokens"))
            for (i, e) in entries.enumerated() {
                if let progress, i % 500 == 0 { progress(i) }
                if existing.contains(e.name) {
                    throw VaultError.invalidInput(reason: "\(e.at)a token named \(e.name) already exists", hint: "nothing was imported")
                }
                var record = TokenRecord(id: nil, name: e.name, region: e.metadata.region?.rawValue, baseUrl: e.metadata.baseURL,
                                         role: e.metadata.role, description: e.metadata.description,
                                         permissions: JSONText.array(e.metadata.permissions), createdAt: now, metaMac: nil)
                try record.insertRow(db)
                try sealMetadata(db, &record)
                _ = try e.token.withUnsafeBytes { raw in
                    try insertVersion(db, tokenID: record.id!, version: 1, token: raw, expires: e.expires, scratch: &scratch)
                }
                try sealState(w, &record)
            }
            // The row names every token: each one's state MAC names this row (freshness check).
            w.subjects = entries.map { AuditSubject(name: $0.name, version: 1) }
            return entries.count
        }
    }
}
