import Foundation
import VaultFormat
import VaultStorage

// The token resolver: a token by name, authenticated (metadata MAC, state MAC, freshness),
// the version asked for, opened bound to its token and version; and the version writes that
// rotation and renewal share.

extension UnlockedVault {
    /// A token as authenticated: its metadata and version bookkeeping verified against their
    /// MACs, and the version that was asked for, fetched by the ids that were asked for.
    struct ResolvedToken {
        let record: TokenRecord
        let current: VersionState
        /// The requested version's row (the current one when none was asked for).
        let target: TokenVersionRecord
    }

    /// The one way to find a token for use: by name, metadata MAC, state MAC, freshness
    /// against the audit log (unless the caller checks that for many tokens at once), then the
    /// requested version by primary key. Every id that binds a secret comes from what was
    /// asked for and authenticated, never from the row that came back. `changes` is a verified
    /// walk from at or before this token's `state_seq` when the caller made one for many tokens.
    func resolve(_ db: StoreTransaction, _ name: String, version: Int? = nil, changes: [String: Int64]? = nil) throws -> ResolvedToken {
        guard let record = try TokenRecord.named(name, db), record.name == name, let id = record.id, id >= 1 else {
            throw VaultError.tokenNotFound(name: name)
        }
        try checkMetadata(record)
        let current = try checkState(record, try VersionState.all(tokenID: id, db))
        try checkFresh(record, newestChange: try (changes ?? verifiedChanges(db, after: record.stateSeq!, name: name))[name])
        let wanted = version ?? current.version
        guard (1...Int(UInt32.max)).contains(wanted),
              let row = try TokenVersionRecord.version(wanted, tokenID: id, db) else {
            throw VaultError.versionNotFound(name: name, version: wanted)
        }
        guard row.tokenId == id, row.version == wanted else {
            throw VaultError.authenticationFailed(name: name, version: wanted)
        }
        return ResolvedToken(record: record, current: current, target: row)
    }

    func replaceCurrent(_ w: inout AuditedWrite, _ t: ResolvedToken, secret: borrowing SecureBytes,
                        expires: Date?, keep: Int, console: ConsoleLink = ConsoleLink()) throws -> RotationResult {
        let db = w.db
        let id = t.record.id!
        guard var retired = try TokenVersionRecord.version(t.current.version, tokenID: id, db) else {
            throw VaultError.versionNotFound(name: t.record.name, version: t.current.version)
        }
        retired.retiredAt = Timestamp.seconds(now)
        try TokenVersionRecord.setRetiredAt(retired.retiredAt, tokenID: id, version: retired.version, db)
        try faultInjection?("rotate.retired")
        let maxVersion = try TokenVersionRecord.maxVersion(tokenID: id, db)
        guard maxVersion < Int(UInt32.max) else {
            throw VaultError.invalidInput(reason: "token \(t.record.name) has reached the last version number", hint: "remove and add it again")
        }
        let new = try insertVersion(db, tokenID: id, version: maxVersion + 1, secret: secret, expires: expires, console: console)
        try faultInjection?("rotate.inserted")
        let stale = try TokenVersionRecord.prune(tokenID: id, keeping: keep, db)
        var record = t.record
        try sealState(w, &record)
        w.subjects = [AuditSubject(name: record.name, version: new.version)]
        w.details["previous"] = "\(t.current.version)"
        if !stale.isEmpty { w.details["pruned"] = stale.sorted().map(String.init).joined(separator: ",") }
        return RotationResult(current: Vault.info(new), previous: Vault.info(retired), pruned: stale.sorted())
    }

    /// Seals and inserts a version; the sealed plaintext binds vault, token and version.
    func insertVersion(_ db: StoreTransaction, tokenID: Int64, version: Int, secret: borrowing SecureBytes, expires: Date?,
                       retiredAt: Int64? = nil, console: ConsoleLink = ConsoleLink()) throws -> TokenVersionRecord {
        var scratch = SecureBytes(capacity: SealedEntry.bindingBytes + secret.count, empty: true)
        return try secret.withUnsafeBytes { raw in
            try insertVersion(db, tokenID: tokenID, version: version, token: raw, expires: expires, scratch: &scratch,
                              retiredAt: retiredAt, console: console)
        }
    }

    /// The same for bulk inserts: seals through a scratch buffer reused across calls.
    func insertVersion(_ db: StoreTransaction, tokenID: Int64, version: Int, token: UnsafeRawBufferPointer, expires: Date?,
                       scratch: inout SecureBytes, retiredAt: Int64? = nil, console: ConsoleLink = ConsoleLink()) throws -> TokenVersionRecord {
        let (nonce, ciphertext) = SealedEntry.seal(token, binding: try SealedEntry.binding(vaultID: vaultID, tokenID: tokenID, version: version),
                                                   key: tokenKey, scratch: &scratch)
        let v = TokenVersionRecord(tokenId: tokenID, version: version, nonce: Data(nonce), ciphertext: Data(ciphertext),
                                   createdAt: Timestamp.seconds(now), expiresAt: expires.map(Timestamp.seconds), retiredAt: retiredAt,
                                   console: console)
        try v.insertRow(db)
        return v
    }

    /// Opens the resolved version, bound to the token id and version that were asked for.
    func open(_ t: ResolvedToken) throws(VaultError) -> SecureBytes {
        var scratch = SecureBytes(capacity: max(t.target.ciphertext.count - SecretBox.macBytes, 0), empty: true)
        let range = try open(t.target, tokenID: t.record.id!, version: t.target.version, name: t.record.name, into: &scratch)
        return scratch.withUnsafeBytes { SecureBytes(copying: UnsafeRawBufferPointer(rebasing: $0[range])) }
    }

    /// Opens a sealed row into `scratch` (reused across calls), bound to `tokenID` and
    /// `version` — the ids the caller asked for — and returns where the token lies there.
    /// Throws `authenticationFailed` when the MAC fails, the bound identity differs, or the
    /// plaintext is not a well-formed token (SECURITY.md: 1–16384 bytes, 0x21–0x7E).
    func open(_ v: TokenVersionRecord, tokenID: Int64, version: Int, name: String, into scratch: inout SecureBytes) throws(VaultError) -> Range<Int> {
        guard let binding = try? SealedEntry.binding(vaultID: vaultID, tokenID: tokenID, version: version),
              let range = SealedEntry.open(ciphertext: Array(v.ciphertext), nonce: Array(v.nonce), binding: binding,
                                           key: tokenKey, into: &scratch) else {
            throw .authenticationFailed(name: name, version: version)
        }
        guard scratch.withUnsafeBytes({ TokenInput.isWellFormed(UnsafeRawBufferPointer(rebasing: $0[range])) }) else {
            scratch.reset()
            throw .authenticationFailed(name: name, version: version)
        }
        return range
    }

    /// The expiry warning to print for a version about to be released, or the error when it
    /// has expired and that is not allowed.
    func expiryWarning(name: String, version: Int, expiresAt: Int64?, createdAt: Int64?, allowExpired: Bool, own: Int? = nil) throws(VaultError) -> String? {
        let expires = expiresAt.map(Timestamp.date)
        switch ExpiryStatus.of(expires: expires, created: createdAt.map(Timestamp.date), now: now, warnDays: vault.warnDays, own: own) {
        case .expired:
            if !allowExpired { throw .tokenExpired(name: name, version: version, expired: expires!) }
            return "token \(name) version \(version) expired on \(Timestamp.day(expires!))"
        case .expiring:
            let days = ExpiryStatus.daysLeft(expires: expires!, now: now)
            return "token \(name) version \(version) expires in \(days) day\(days == 1 ? "" : "s") (\(Timestamp.day(expires!)))"
        case .ok, .never:
            return nil
        }
    }

    /// Resolves and decrypts every requested version into one arena through one scratch
    /// buffer: two guarded allocations however many tokens (see SecretArena). Freshness is
    /// checked for all of them with one pass over the audit rows that change tokens.
    func decryptAll(_ db: StoreTransaction, _ requests: [(name: String, version: Int?)], allowExpired: Bool) throws -> [RevealedToken] {
        // Few tokens: one walk each from its own state. Many: one walk from the oldest state.
        var changes: [String: Int64]?
        if requests.count > 8 {
            let oldest = try TokenRecord.oldestStateSeq(db)
            changes = try verifiedChanges(db, after: oldest, name: requests[0].name)
        }
        let rows = try requests.map { r -> (ResolvedToken, String?) in
            let t = try resolve(db, r.name, version: r.version, changes: changes)
            return (t, try expiryWarning(name: r.name, version: t.target.version, expiresAt: t.target.expiresAt, createdAt: t.target.createdAt, allowExpired: allowExpired,
                                         own: t.record.warnDays))
        }
        let capacity = rows.reduce(0) { $0 + max($1.0.target.ciphertext.count - SecretBox.macBytes - SealedEntry.bindingBytes, 0) }
        let arena = SecretArena(capacity: capacity)
        var scratch = SecureBytes(capacity: 4096, empty: true)
        var out: [RevealedToken] = []
        out.reserveCapacity(rows.count)
        for (t, warning) in rows {
            let range = try open(t.target, tokenID: t.record.id!, version: t.target.version, name: t.record.name, into: &scratch)
            let view = scratch.withUnsafeBytes { arena.store(UnsafeRawBufferPointer(rebasing: $0[range])) }
            scratch.reset()
            out.append(RevealedToken(name: t.record.name, version: t.target.version, baseURL: t.record.baseUrl,
                                     region: t.record.region.flatMap(Region.init(rawValue:)), expires: t.target.expiresAt.map(Timestamp.date),
                                     secret: view, warning: warning, role: t.record.role, description: t.record.description,
                                     permissions: t.record.permissionList,
                                     console: (t.target.console.id, t.target.console.name, t.target.console.state?.rawValue), manager: t.record.manager))
        }
        return out
    }
}
