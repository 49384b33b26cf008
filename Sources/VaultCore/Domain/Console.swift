import Foundation
import VaultFormat
import VaultStorage
import VisionOne

/// A token as `renew` and `sync` see it: metadata and every kept version, authenticated.
public struct LinkedToken: Sendable {
    /// The token's row id (intents name it).
    public var id: Int64
    public var name: String
    public var baseURL: String
    public var role: String?
    public var description: String?
    public var manager: Bool
    public var current: VersionSnapshot
    public var versions: [VersionSnapshot]
    /// A version newer than the current one, sealed by `renew` and not yet verified (its
    /// console key still enabled: one whose check failed is disabled, and merely retired).
    public var staged: VersionSnapshot? {
        versions.last.flatMap { $0.version > current.version && $0.console.state == .enabled ? $0 : nil }
    }
}

/// One kept version's bookkeeping (no secret).
public struct VersionSnapshot: Sendable, Equatable {
    public var version: Int
    public var created: Date
    public var expires: Date?
    public var retired: Date?
    public var console: ConsoleLink
}

/// A renewal intent: written before `renew` asks the console to create a key.
public struct RenewalIntent: Sendable, Equatable {
    public var id: Int64
    public var tokenID: Int64
    public var plannedName: String
    public var baseURL: String
    public var created: Date
    /// False when its MAC does not verify: never acted upon.
    public var authentic: Bool
    /// Rebuilt from its `console-create` audit row (its table row was deleted): its orphan is
    /// disabled, never deleted — an audit log cut short could make a resolved intent look open.
    public var rebuilt = false
}

/// The manager key of a base URL (`vault manager show`).
public struct ManagerInfo: Sendable, Equatable {
    public var name: String
    public var baseURL: String
    public var region: Region?
}

/// The MAC over a renewal intent (SECURITY.md, "Console links (schema 5)").
enum IntentMAC {
    static let domain = Array("v1vault-intent-v1".utf8)

    static func mac(key: borrowing SecureBytes, vaultID: [UInt8], id: Int64, tokenID: Int64, plannedName: String, baseURL: String, createdAt: Int64) -> [UInt8] {
        var out = vaultID
        func u64(_ v: Int64) { withUnsafeBytes(of: UInt64(bitPattern: v).bigEndian) { out += $0 } }
        func str(_ s: String) { let b = Array(s.utf8); withUnsafeBytes(of: UInt32(b.count).bigEndian) { out += $0 }; out += b }
        u64(id); u64(tokenID); str(plannedName); str(baseURL); u64(createdAt)
        return KeyedHash.mac(key: key, parts: [domain, out])
    }
}

extension UnlockedVault {
    // MARK: - Manager keys

    /// Marks `name` as the manager key of its base URL (`expectedBaseURL`, when given, must be
    /// that base URL). Replaces an earlier manager of the same base URL. Audited as `edit`.
    public func setManager(_ name: String, expectedBaseURL: String?) throws(VaultError) -> (ManagerInfo, replaced: String?) {
        try perform("edit", subjects: [AuditSubject(name: name)], details: ["manager": "set"]) { w in
            let t = try resolve(w.db, name)
            if let expectedBaseURL, expectedBaseURL != t.record.baseUrl {
                throw VaultError.invalidInput(reason: "\(name) belongs to \(t.record.baseUrl), not \(expectedBaseURL)",
                                              hint: "a manager key calls the API of its own region")
            }
            var replaced: String?
            if let marked = try TokenRecord.manager(of: t.record.baseUrl, w.db),
               marked.id != t.record.id {
                // Fully authenticated (metadata, state, freshness) before its state is sealed again.
                var old = try resolve(w.db, marked.name).record
                old.manager = false
                try old.updateMetadata(w.db)
                try sealMetadata(w.db, &old)
                replaced = old.name
                w.subjects.append(AuditSubject(name: old.name))
                w.details["replaced"] = old.name
            }
            var record = t.record
            record.manager = true
            try record.updateMetadata(w.db)
            try sealMetadata(w.db, &record)
            try sealState(w, &record)
            if let replaced, var old = try TokenRecord.named(replaced, w.db) { try sealState(w, &old) }
            return (ManagerInfo(name: name, baseURL: record.baseUrl, region: record.region.flatMap(Region.init(rawValue:))), replaced)
        }
    }

    /// Clears the manager mark of `name`. Audited as `edit`.
    public func unsetManager(_ name: String) throws(VaultError) {
        try perform("edit", subjects: [AuditSubject(name: name)], details: ["manager": "unset"]) { w in
            var record = try resolve(w.db, name).record
            guard record.manager else {
                throw VaultError.invalidInput(reason: "\(name) is not a manager key", hint: "`vault manager show` lists them")
            }
            record.manager = false
            try record.updateMetadata(w.db)
            try sealMetadata(w.db, &record)
            try sealState(w, &record)
        }
    }

    /// The manager keys, authenticated (a row whose metadata MAC fails is an error, not skipped).
    public func managers() throws(VaultError) -> [ManagerInfo] {
        try vault.store.read { db in
            try TokenRecord.managers(db).map { r in
                try checkMetadata(r)
                return ManagerInfo(name: r.name, baseURL: r.baseUrl, region: r.region.flatMap(Region.init(rawValue:)))
            }
        }
    }

    // MARK: - Links

    /// Links the current version of `name` to console key `consoleID` named `consoleName`
    /// (`sync --apply`, once confirmed). Audited as `sync`.
    func link(_ name: String, consoleID: String, consoleName: String) throws(VaultError) {
        try Self.checkLink(ConsoleLink(id: consoleID, name: consoleName))
        try perform("sync", subjects: [AuditSubject(name: name)], details: ["console_id": consoleID, "console_name": consoleName]) { w in
            let t = try resolve(w.db, name)
            try checkConsoleIDFree(w.db, consoleID, tokenID: t.record.id!)
            var link = t.target.console
            link.id = consoleID
            link.name = consoleName
            link.state = link.state ?? .enabled
            try TokenVersionRecord.updateConsole(w.db, tokenID: t.record.id!, version: t.current.version, link)
            var record = t.record
            try sealState(w, &record)
            w.subjects = [AuditSubject(name: name, version: t.current.version)]
        }
    }

    /// Throws unless no other token links console key `id`: two tokens sharing one key would
    /// let renewing one disable the other's (a mistyped id, say the manager's).
    func checkConsoleIDFree(_ db: StoreTransaction, _ id: String, tokenID: Int64) throws {
        if let other = try TokenRecord.otherTokenLinking(consoleID: id, besides: tokenID, db) {
            throw VaultError.invalidInput(reason: "console key \(id) is already linked to \(other)",
                                          hint: "each console key belongs to one token; check the id in Administration > API Keys")
        }
    }

    // MARK: - Authenticated snapshot

    /// Every token with its kept versions, each authenticated (metadata MAC, state MAC,
    /// freshness) in one read. A token that fails is reported in `failed`, not returned.
    func linkedTokens() throws(VaultError) -> (tokens: [LinkedToken], failed: [(String, VaultError)]) {
        try vault.store.read { db in
            let names = try TokenRecord.allNames(db)
            let oldest = try TokenRecord.oldestStateSeq(db)
            let changes = names.isEmpty ? [:] : try verifiedChanges(db, after: oldest, name: names[0])
            var out: [LinkedToken] = [], failed: [(String, VaultError)] = []
            for name in names {
                do {
                    let t = try resolve(db, name, changes: changes)
                    let versions = try VersionState.all(tokenID: t.record.id!, db).map {
                        VersionSnapshot(version: $0.version, created: Timestamp.date($0.createdAt), expires: $0.expiresAt.map(Timestamp.date),
                                        retired: $0.retiredAt.map(Timestamp.date), console: $0.console)
                    }
                    out.append(LinkedToken(id: t.record.id!, name: name, baseURL: t.record.baseUrl, role: t.record.role, description: t.record.description,
                                           manager: t.record.manager, current: versions.first { $0.version == t.current.version }!,
                                           versions: versions))
                } catch {
                    failed.append((name, VaultStore.mapDatabaseError(error)))
                }
            }
            return (out, failed)
        }
    }

    // MARK: - Intents

    func writeIntent(_ db: StoreTransaction, tokenID: Int64, plannedName: String, baseURL: String) throws -> RenewalIntent {
        let created = Timestamp.seconds(now)
        let id = try IntentRow.insert(tokenID: tokenID, plannedName: plannedName, baseURL: baseURL, createdAt: created, db)
        let mac = IntentMAC.mac(key: metadataKey, vaultID: vaultID, id: id, tokenID: tokenID, plannedName: plannedName, baseURL: baseURL, createdAt: created)
        try IntentRow.setMAC(mac, id: id, db)
        return RenewalIntent(id: id, tokenID: tokenID, plannedName: plannedName, baseURL: baseURL, created: Timestamp.date(created), authentic: true)
    }

    /// Intents whose row is gone but whose `console-create` audit row (sealed, in a verified
    /// chain) no `renew` row resolved: someone deleted the row, which would otherwise leave an
    /// orphan unnoticed. Rebuilt from the audit row (planned name, base URL).
    func intentsOnlyInAudit(besides existing: Set<Int64>) throws(VaultError) -> [RenewalIntent] {
        try vault.store.read { db in
            let chain = try AuditChain.verify(db, key: auditKey, epochs: try auditEpochs(db), expectHead: nil)
            guard chain.intact else { return [] }
            func details(_ action: String) throws -> [(at: String, d: [String: String])] {
                try AuditRecord.sealedRows(actions: [action], okOnly: true, containing: #""intent":"#, db).compactMap { row in
                    guard let text = row.details, let at = row.at,
                          let d = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: String] else { return nil }
                    return (at, d)
                }
            }
            let resolved = Set(try details("renew").compactMap { $0.d["intent"].flatMap { Int64($0) } })
            return try details("console-create").compactMap { row -> RenewalIntent? in
                guard let id = row.d["intent"].flatMap({ Int64($0) }), !resolved.contains(id), !existing.contains(id),
                      let planned = row.d["console_name"], ConsoleLink.isValidName(planned),
                      let base = row.d["base_url"], (try? Validate.baseURL(base)) == base else { return nil }
                return RenewalIntent(id: id, tokenID: 0, plannedName: planned, baseURL: base,
                                     created: ConsoleAnswers.date(row.at) ?? Date(timeIntervalSince1970: 0), authentic: true, rebuilt: true)
            }
        }
    }

    func intents() throws(VaultError) -> [RenewalIntent] {
        try vault.store.read(loadIntents)
    }

    /// Every intent row, each with whether its MAC (under this vault's metadata key) verifies.
    func loadIntents(_ db: StoreTransaction) throws -> [RenewalIntent] {
            try IntentRow.all(db).map { row in
                let id = row.id, tokenID = row.tokenID, planned = row.plannedName, base = row.baseURL
                let created = row.createdAt, stored = row.mac
                let expected = IntentMAC.mac(key: metadataKey, vaultID: vaultID, id: id, tokenID: tokenID, plannedName: planned, baseURL: base, createdAt: created)
                let ok = expected.withUnsafeBytes { a in stored.withUnsafeBytes { b in Sodium.constantTimeEqual(a, b) } }
                    && ConsoleLink.isValidName(planned) && (try? Validate.baseURL(base)) == base
                return RenewalIntent(id: id, tokenID: tokenID, plannedName: planned, baseURL: base, created: Timestamp.date(created), authentic: ok)
            }
    }
}
