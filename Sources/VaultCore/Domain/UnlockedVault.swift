import Foundation
import GRDB

/// What `rotate` and `rollback` did.
public struct RotationResult: Sendable, Equatable {
    /// The new current version.
    public var current: TokenVersionInfo
    /// The version that was current before (now retired).
    public var previous: TokenVersionInfo
    /// Versions destroyed because they fell beyond `keep`.
    public var pruned: [Int]
}

/// A vault whose master key is in memory. Holds the token-sealing and audit-chain subkeys in
/// secure memory; they are zeroed when this object is released.
public final class UnlockedVault {
    public let vault: Vault
    let vaultID: [UInt8]
    let master: MasterKey
    let tokenKey: SecureBytes
    let auditKey: SecureBytes
    let metadataKey: SecureBytes
    /// Test hook: called at named points inside write transactions; throwing aborts the
    /// transaction (used to prove that a failure mid-rotation changes nothing).
    var faultInjection: ((String) throws -> Void)?

    init(vault: Vault, vaultID: [UInt8], master: consuming MasterKey) {
        self.vault = vault
        self.vaultID = vaultID
        self.tokenKey = master.subkey(context: MasterKey.tokenContext)
        self.auditKey = master.subkey(context: MasterKey.auditContext)
        self.metadataKey = master.subkey(context: MasterKey.metadataContext)
        self.master = master
    }

    var now: Date { vault.clock.now() }

    // MARK: - Adding and rotating

    /// Stores a new token as version 1. The name must be unused.
    @discardableResult
    public func add(_ name: String, token: borrowing SecureBytes, metadata: TokenMetadata, expires: Date?) throws(VaultError) -> TokenVersionInfo {
        try Validate.tokenName(name)
        try TokenInput.validate(token)
        return try perform("add", subjects: [AuditSubject(name: name, version: 1)],
                           details: ["region": metadata.region?.rawValue ?? "custom"]) { db, _, _ in
            guard try !TokenRecord.exists(name, db) else {
                throw VaultError.tokenExists(name: name)
            }
            let permissions = JSONText.array(metadata.permissions)
            var record = TokenRecord(id: nil, name: name, region: metadata.region?.rawValue, baseUrl: metadata.baseURL,
                                     role: metadata.role, description: metadata.description, permissions: permissions,
                                     createdAt: Timestamp.seconds(now), metaMac: nil)
            try record.insertRow(db)
            try sealMetadata(db, &record)
            let v = try insertVersion(db, tokenID: record.id!, version: 1, secret: token, expires: expires)
            return Vault.info(v)
        }
    }

    /// Makes `token` the current version of `name`, retiring the previous one and destroying
    /// versions beyond the newest `keep`. One transaction: on any failure nothing changes.
    public func rotate(_ name: String, token: borrowing SecureBytes, expires: Date?, keep: Int = 10) throws(VaultError) -> RotationResult {
        try TokenInput.validate(token)
        try Self.checkKeep(keep)
        return try perform("rotate", subjects: [AuditSubject(name: name)], details: ["keep": "\(keep)"]) { db, subjects, details in
            let (record, current) = try currentVersion(db, name)
            let previous = try open(current, name: name)
            guard !previous.constantTimeEquals(token) else { throw VaultError.identicalToken(name: name) }
            return try replaceCurrent(db, record: record, current: current, secret: token, expires: expires, keep: keep,
                                      subjects: &subjects, details: &details)
        }
    }

    /// Makes version `target`'s secret current again as a new version; history is not rewritten.
    public func rollback(_ name: String, to target: Int, keep: Int = 10, allowExpired: Bool = false) throws(VaultError) -> RotationResult {
        try Self.checkKeep(keep)
        return try perform("rollback", subjects: [AuditSubject(name: name, version: target)], details: ["to": "\(target)"]) { db, subjects, details in
            let (record, current) = try currentVersion(db, name)
            guard current.version != target else {
                throw VaultError.invalidInput(reason: "version \(target) of \(name) is already current", hint: nil)
            }
            guard let old = try TokenVersionRecord.version(target, tokenID: record.id!, db) else {
                throw VaultError.versionNotFound(name: name, version: target)
            }
            if let e = old.expiresAt, Timestamp.date(e) <= now, !allowExpired {
                throw VaultError.tokenExpired(name: name, version: target, expired: Timestamp.date(e))
            }
            let secret = try open(old, name: name)
            let expires = old.expiresAt.map(Timestamp.date)
            return try replaceCurrent(db, record: record, current: current, secret: secret, expires: expires, keep: keep,
                                      subjects: &subjects, details: &details)
        }
    }

    /// Deletes a token and every version (secure_delete overwrites the freed pages).
    public func remove(_ name: String) throws(VaultError) {
        try perform("remove", subjects: [AuditSubject(name: name)]) { db, subjects, details in
            let (record, current) = try currentVersion(db, name)
            let count = try record.deleteWithVersions(db)
            subjects = [AuditSubject(name: name, version: current.version)]
            details["versions"] = "\(count)"
        }
    }

    // MARK: - Revealing

    /// Decrypts one version (default: current) of `name`. The audit row is committed before the
    /// secret is returned; if it cannot be written the secret is dropped (zeroed) and
    /// `auditWriteFailed` is thrown. Expired versions throw `tokenExpired` unless allowed.
    public func reveal(_ name: String, version: Int? = nil, allowExpired: Bool = false, action: String = "reveal",
                       details: [String: String] = [:]) throws(VaultError) -> RevealedToken {
        try revealMany([(name, version)], allowExpired: allowExpired, action: action, details: details)[0]
    }

    /// Decrypts several tokens under one unlock and one audit row.
    /// `prepare` runs on the decrypted tokens before the audit row is written (e.g. rendering an
    /// export format that may refuse a value), so a refused export is audited as an error only.
    public func revealMany(_ requests: [(name: String, version: Int?)], allowExpired: Bool = false, action: String = "reveal",
                           details: [String: String] = [:],
                           prepare: ([RevealedToken]) throws(VaultError) -> Void = { _ in }) throws(VaultError) -> [RevealedToken] {
        var subjects = requests.map { AuditSubject(name: $0.name, version: $0.version) }
        let revealed: [RevealedToken]
        do throws(VaultError) {
            revealed = try vault.store.read { db in try decryptAll(db, requests, allowExpired: allowExpired) }
            try prepare(revealed)
        } catch {
            recordFailure(action, subjects: subjects, details: details, error: error)
            throw error
        }
        subjects = revealed.map { AuditSubject(name: $0.name, version: $0.version) }
        do throws(VaultError) {
            try vault.store.write { db in
                try faultInjection?("\(action).audit")
                try appendSealed(db, action: action, subjects: subjects, details: details)
            }
        } catch {
            throw .auditWriteFailed(reason: error.description)
        }
        return revealed
    }

    // MARK: - Keys

    /// Rewraps the master key under a KEK derived from `passphrase` with `parameters` and a new
    /// salt. O(1): no token row is touched. Used by `passwd` and `kdf set`.
    public func rekey(passphrase: borrowing SecureBytes, parameters: KDFParameters, targetMilliseconds: Int64? = nil,
                      action: String = "passwd") throws(VaultError) {
        try parameters.validate()
        try Passphrase.validate(passphrase)
        let salt = Sodium.randomBytes(KDF.saltBytes)
        let kek = try KDF.deriveKEK(passphrase: passphrase, salt: salt, parameters: parameters)
        let (nonce, wrapped) = master.wrap(vaultID: vaultID, kek: kek)
        try perform(action, subjects: [], details: ["ops": "\(parameters.opsLimit)", "memory": ByteSize.format(parameters.memLimit)]) { db, _, _ in
            guard var header = try VaultHeaderRecord.fetch(db) else { throw VaultError.corruptVault(reason: "vault header is missing") }
            header.kdfOps = Int64(parameters.opsLimit)
            header.kdfMem = Int64(parameters.memLimit)
            header.kdfSalt = Data(salt)
            header.kdfTargetMs = targetMilliseconds
            header.wrapNonce = Data(nonce)
            header.wrappedKey = Data(wrapped)
            header.updatedAt = Timestamp.seconds(now)
            try faultInjection?("\(action).header")
            try header.update(db)
        }
    }

    // MARK: - Audit chain

    /// Seals pending rows, records this verification, and walks the whole chain.
    public func verifyAudit(expectHead: AuditHead? = nil) throws(VaultError) -> AuditVerification {
        let result = try vault.store.read { db in try AuditChain.verify(db, key: auditKey, expectHead: expectHead) }
        try? vault.store.write { db in
            try appendSealed(db, action: "audit-verify", details: [
                "result": result.problem.map { "\($0)" } ?? "intact", "expect_head": expectHead.map { "\($0)" } ?? "",
            ])
        }
        return result
    }

    /// Seals pending rows and returns the head, which includes this command's own row.
    public func auditHead() throws(VaultError) -> AuditHead {
        try vault.store.write { db in
            try appendSealed(db, action: "audit-head")
            let last = try AuditRecord.lastSealed(db)!
            return AuditHead(seq: last.seq!, mac: Array(last.mac!))
        }
    }

    /// Appends a sealed audit row for an operation that happens outside the vault (e.g. `exec`).
    public func record(_ action: String, subjects: [AuditSubject] = [], details: [String: String] = [:], error: VaultError? = nil) throws(VaultError) {
        try vault.store.write { db in
            try appendSealed(db, action: action, subjects: subjects, details: details,
                             outcome: error == nil ? "ok" : "error", reason: error?.description)
        }
    }

    // MARK: - Internals

    /// Runs `body` in one IMMEDIATE transaction together with its sealed audit row. On failure
    /// the transaction rolls back and a separate error row is recorded.
    @discardableResult
    func perform<T>(_ action: String, subjects: [AuditSubject], details: [String: String] = [:],
                    _ body: (Database, inout [AuditSubject], inout [String: String]) throws -> T) throws(VaultError) -> T {
        do throws(VaultError) {
            return try vault.store.write { db in
                var s = subjects, d = details
                let result = try body(db, &s, &d)
                try faultInjection?("\(action).beforeCommit")
                try appendSealed(db, action: action, subjects: s, details: d)
                return result
            }
        } catch {
            recordFailure(action, subjects: subjects, details: details, error: error)
            throw error
        }
    }

    func recordFailure(_ action: String, subjects: [AuditSubject], details: [String: String], error: VaultError) {
        try? vault.store.write { db in
            try appendSealed(db, action: action, subjects: subjects, details: details, outcome: "error", reason: error.description)
        }
    }

    func appendSealed(_ db: Database, action: String, subjects: [AuditSubject] = [], details: [String: String] = [:],
                      outcome: String = "ok", reason: String? = nil) throws {
        try vault.appendAudit(db, action: action, subjects: subjects, details: details, outcome: outcome, reason: reason)
        try AuditChain.sealPending(db, key: auditKey)
    }

    /// Computes and stores a token's metadata MAC (after insert, when its id is known).
    func sealMetadata(_ db: Database, _ record: inout TokenRecord) throws {
        record.metaMac = Data(MetadataMAC.mac(key: metadataKey, vaultID: vaultID, record))
        try record.updateMetaMac(db)
    }

    /// Throws unless the row's metadata MAC verifies. A row without a MAC (written before
    /// schema 2, or with its MAC deleted) fails closed until the user vouches for it with
    /// `sealLegacyMetadata` — otherwise deleting the MAC would be a way around it.
    func checkMetadata(_ record: TokenRecord) throws(VaultError) {
        guard record.metaMac != nil else { throw .metadataUnsealed(name: record.name) }
        guard MetadataMAC.verify(key: metadataKey, vaultID: vaultID, record) else { throw .metadataTampered(name: record.name) }
    }

    /// Seals the metadata of every token that has no MAC (vaults from before schema 2), after the
    /// user has checked it. Returns the names and base URLs sealed; audited.
    public func sealLegacyMetadata() throws(VaultError) -> [(name: String, baseURL: String)] {
        try perform("seal-metadata", subjects: []) { db, subjects, _ in
            var sealed: [(String, String)] = []
            for var legacy in try TokenRecord.filter(TokenRecord.Columns.metaMac == nil).order(TokenRecord.Columns.name).fetchAll(db) {
                try sealMetadata(db, &legacy)
                sealed.append((legacy.name, legacy.baseUrl))
            }
            subjects = sealed.map { AuditSubject(name: $0.0) }
            return sealed
        }
    }

    public static func checkKeep(_ keep: Int) throws(VaultError) {
        guard (1...1000).contains(keep) else {
            throw .invalidInput(reason: "--keep must be between 1 and 1000", hint: nil)
        }
    }

    func currentVersion(_ db: Database, _ name: String) throws -> (TokenRecord, TokenVersionRecord) {
        guard let record = try TokenRecord.named(name, db) else {
            throw VaultError.tokenNotFound(name: name)
        }
        try checkMetadata(record)
        guard let current = try TokenVersionRecord.current(tokenID: record.id!, db) else {
            throw VaultError.corruptVault(reason: "token \(name) has no current version")
        }
        return (record, current)
    }

    func replaceCurrent(_ db: Database, record: TokenRecord, current: TokenVersionRecord, secret: borrowing SecureBytes,
                        expires: Date?, keep: Int, subjects: inout [AuditSubject], details: inout [String: String]) throws -> RotationResult {
        var retired = current
        retired.retiredAt = Timestamp.seconds(now)
        try retired.updateRetiredAt(db)
        try faultInjection?("rotate.retired")
        let maxVersion = try Int.fetchOne(db, sql: "SELECT max(version) FROM token_versions WHERE token_id = ?", arguments: [record.id!]) ?? 0
        let new = try insertVersion(db, tokenID: record.id!, version: maxVersion + 1, secret: secret, expires: expires)
        try faultInjection?("rotate.inserted")
        let stale = try Int.fetchAll(db, sql: """
            SELECT version FROM token_versions WHERE token_id = ? ORDER BY version DESC LIMIT -1 OFFSET ?
            """, arguments: [record.id!, keep])
        if !stale.isEmpty {
            try db.execute(sql: "DELETE FROM token_versions WHERE token_id = ? AND version IN (\(stale.map(String.init).joined(separator: ",")))",
                           arguments: [record.id!])
        }
        subjects = [AuditSubject(name: record.name, version: new.version)]
        details["previous"] = "\(current.version)"
        if !stale.isEmpty { details["pruned"] = stale.sorted().map(String.init).joined(separator: ",") }
        return RotationResult(current: Vault.info(new), previous: Vault.info(retired), pruned: stale.sorted())
    }

    /// Seals and inserts a version; the sealed plaintext binds vault, token and version.
    func insertVersion(_ db: Database, tokenID: Int64, version: Int, secret: borrowing SecureBytes, expires: Date?) throws -> TokenVersionRecord {
        var scratch = SecureBytes(capacity: SealedEntry.bindingBytes + secret.count, empty: true)
        return try secret.withUnsafeBytes { raw in
            try insertVersion(db, tokenID: tokenID, version: version, token: raw, expires: expires, scratch: &scratch)
        }
    }

    /// The same for bulk inserts: seals through a scratch buffer reused across calls.
    func insertVersion(_ db: Database, tokenID: Int64, version: Int, token: UnsafeRawBufferPointer, expires: Date?,
                       scratch: inout SecureBytes) throws -> TokenVersionRecord {
        let (nonce, ciphertext) = SealedEntry.seal(token, binding: SealedEntry.binding(vaultID: vaultID, tokenID: tokenID, version: version),
                                                   key: tokenKey, scratch: &scratch)
        let v = TokenVersionRecord(tokenId: tokenID, version: version, nonce: Data(nonce), ciphertext: Data(ciphertext),
                                   createdAt: Timestamp.seconds(now), expiresAt: expires.map(Timestamp.seconds), retiredAt: nil)
        try v.insertRow(db)
        return v
    }

    /// Opens a version; throws `authenticationFailed` naming the token and version when the
    /// MAC fails or the bound identity does not match the row.
    func open(_ v: TokenVersionRecord, name: String) throws(VaultError) -> SecureBytes {
        let binding = SealedEntry.binding(vaultID: vaultID, tokenID: v.tokenId, version: v.version)
        guard let secret = SealedEntry.open(ciphertext: Array(v.ciphertext), nonce: Array(v.nonce), binding: binding, key: tokenKey) else {
            throw .authenticationFailed(name: name, version: v.version)
        }
        return secret
    }

    /// Opens a version into `scratch` (reused across calls) and returns where its token lies
    /// there; the same failure as `open`.
    func open(_ v: TokenVersionRecord, name: String, into scratch: inout SecureBytes) throws(VaultError) -> Range<Int> {
        let binding = SealedEntry.binding(vaultID: vaultID, tokenID: v.tokenId, version: v.version)
        guard let range = SealedEntry.open(ciphertext: Array(v.ciphertext), nonce: Array(v.nonce), binding: binding,
                                           key: tokenKey, into: &scratch) else {
            throw .authenticationFailed(name: name, version: v.version)
        }
        return range
    }

    /// Finds the version to reveal and checks metadata and expiry; returns the warning to print.
    func locate(_ db: Database, name: String, version: Int?, allowExpired: Bool) throws -> (TokenRecord, TokenVersionRecord, String?) {
        guard let record = try TokenRecord.named(name, db) else {
            throw VaultError.tokenNotFound(name: name)
        }
        try checkMetadata(record)
        let found = try version.map { try TokenVersionRecord.version($0, tokenID: record.id!, db) }
            ?? TokenVersionRecord.current(tokenID: record.id!, db)
        guard let v = found else {
            if let version { throw VaultError.versionNotFound(name: name, version: version) }
            throw VaultError.corruptVault(reason: "token \(name) has no current version")
        }
        let expires = v.expiresAt.map(Timestamp.date)
        var warning: String?
        switch ExpiryStatus.of(expires: expires, now: now, warnDays: vault.warnDays) {
        case .expired:
            if !allowExpired { throw VaultError.tokenExpired(name: name, version: v.version, expired: expires!) }
            warning = "token \(name) version \(v.version) expired on \(Timestamp.day(expires!))"
        case .expiring:
            let days = ExpiryStatus.daysLeft(expires: expires!, now: now)
            warning = "token \(name) version \(v.version) expires in \(days) day\(days == 1 ? "" : "s") (\(Timestamp.day(expires!)))"
        case .ok, .never:
            break
        }
        return (record, v, warning)
    }

    /// Decrypts every requested version into one arena through one scratch buffer: two guarded
    /// allocations however many tokens (see SecretArena).
    func decryptAll(_ db: Database, _ requests: [(name: String, version: Int?)], allowExpired: Bool) throws -> [RevealedToken] {
        let rows = try requests.map { try locate(db, name: $0.name, version: $0.version, allowExpired: allowExpired) }
        let capacity = rows.reduce(0) { $0 + max($1.1.ciphertext.count - SecretBox.macBytes - SealedEntry.bindingBytes, 0) }
        let arena = SecretArena(capacity: capacity)
        var scratch = SecureBytes(capacity: 4096, empty: true)
        var out: [RevealedToken] = []
        out.reserveCapacity(rows.count)
        for (record, v, warning) in rows {
            let range = try open(v, name: record.name, into: &scratch)
            let view = scratch.withUnsafeBytes { arena.store(UnsafeRawBufferPointer(rebasing: $0[range])) }
            scratch.reset()
            out.append(RevealedToken(name: record.name, version: v.version, baseURL: record.baseUrl,
                                     region: record.region.flatMap(Region.init(rawValue:)), expires: v.expiresAt.map(Timestamp.date),
                                     secret: view, warning: warning))
        }
        return out
    }
}

extension UnlockedVault {
    /// The KDF parameters currently in the header.
    public func kdfParameters() throws(VaultError) -> KDFParameters {
        let header = try vault.store.read { db in try VaultHeaderRecord.fetch(db) }
        guard let p = header?.kdfParameters else { throw .corruptVault(reason: "vault header is missing") }
        return p
    }
}
