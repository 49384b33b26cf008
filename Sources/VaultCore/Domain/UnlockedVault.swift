import Foundation
import GRDB
import VaultFormat

/// What `rotate` and `rollback` did.
public struct RotationResult: Sendable, Equatable {
    /// False when versions were destroyed but another process kept the WAL from being
    /// truncated: their ciphertext may remain in `-wal` until that process closes the vault.
    public var walPurged = true
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
    /// The session this vault was unlocked from (`vault unlock`), nil when a passphrase was
    /// typed or read. Every audit row this vault writes then says `"session": "keyring"`.
    public internal(set) var session: SessionInfo?
    /// Test hook: called at named points inside write transactions; throwing aborts the
    /// transaction (used to prove that a failure mid-rotation changes nothing).
    var faultInjection: ((String) throws -> Void)?

    /// The header's wrap nonce and wrapped key this vault was opened from (see `seal`).
    let wrappedFrom: (nonce: [UInt8], key: [UInt8])

    init(vault: Vault, vaultID: [UInt8], master: consuming MasterKey, wrappedFrom: (nonce: [UInt8], key: [UInt8])) {
        self.vault = vault
        self.vaultID = vaultID
        self.wrappedFrom = wrappedFrom
        self.tokenKey = master.subkey(context: MasterKey.tokenContext)
        self.auditKey = master.subkey(context: MasterKey.auditContext)
        self.metadataKey = master.subkey(context: MasterKey.metadataContext)
        self.master = master
    }

    var now: Date { vault.clock.now() }

    // MARK: - Adding and rotating

    /// Stores a new token as version 1. The name must be unused.
    @discardableResult
    public func add(_ name: String, token: borrowing SecureBytes, metadata: TokenMetadata, expires: Date?,
                    console: ConsoleLink = ConsoleLink()) throws(VaultError) -> TokenVersionInfo {
        try Validate.tokenName(name)
        try TokenInput.validate(token)
        try Self.checkLink(console)
        return try perform("add", subjects: [AuditSubject(name: name, version: 1)],
                           details: ["region": metadata.region?.rawValue ?? "custom"]) { w in
            guard try !TokenRecord.exists(name, w.db) else {
                throw VaultError.tokenExists(name: name)
            }
            let permissions = JSONText.array(metadata.permissions)
            var record = TokenRecord(id: nil, name: name, region: metadata.region?.rawValue, baseUrl: metadata.baseURL,
                                     role: metadata.role, description: metadata.description, permissions: permissions,
                                     createdAt: Timestamp.seconds(now), metaMac: nil)
            try record.insertRow(w.db)
            try sealMetadata(w.db, &record)
            if let id = console.id { try checkConsoleIDFree(w.db, id, tokenID: record.id!) }
            let v = try insertVersion(w.db, tokenID: record.id!, version: 1, secret: token, expires: expires, console: console)
            try sealState(w, &record)
            return Vault.info(v)
        }
    }

    /// When a rotated-in version expires.
    public enum RotationExpiry: Sendable, Equatable {
        /// This date (nil: never).
        case at(Date?)
        /// As long after now as the current version's lifetime (created → expires, from the
        /// authenticated version state); never if the current version never expires.
        case sameLifetime
    }

    /// Makes `token` the current version of `name`, retiring the previous one and destroying
    /// versions beyond the newest `keep`. One transaction: on any failure nothing changes.
    public func rotate(_ name: String, token: borrowing SecureBytes, expires: Date?, keep: Int = 10) throws(VaultError) -> RotationResult {
        try rotate(name, token: token, expiry: .at(expires), keep: keep)
    }

    public func rotate(_ name: String, token: borrowing SecureBytes, expiry: RotationExpiry, keep: Int = 10,
                       console: ConsoleLink = ConsoleLink()) throws(VaultError) -> RotationResult {
        try TokenInput.validate(token)
        try Self.checkLink(console)
        try Self.checkKeep(keep)
        var result = try perform("rotate", subjects: [AuditSubject(name: name)], details: ["keep": "\(keep)"]) { w in
            let t = try resolve(w.db, name)
            let previous = try open(t)
            guard !previous.constantTimeEquals(token) else { throw VaultError.identicalToken(name: name) }
            let expires: Date?
            switch expiry {
            case .at(let date): expires = date
            case .sameLifetime:
                expires = t.current.expiresAt.map { now.addingTimeInterval(TimeInterval(max(86_400, $0 - t.current.createdAt))) }
                w.details["expiry"] = "same lifetime"
            }
            if let id = console.id { try checkConsoleIDFree(w.db, id, tokenID: t.record.id!) }
            return try replaceCurrent(&w, t, secret: token, expires: expires, keep: keep, console: console)
        }
        if !result.pruned.isEmpty { result.walPurged = vault.store.purgeWAL() }
        return result
    }

    /// Makes version `target`'s secret current again as a new version; history is not rewritten.
    public func rollback(_ name: String, to target: Int, keep: Int = 10, allowExpired: Bool = false) throws(VaultError) -> RotationResult {
        try Self.checkKeep(keep)
        var result = try perform("rollback", subjects: [AuditSubject(name: name, version: target)], details: ["to": "\(target)"]) { w in
            let t = try resolve(w.db, name, version: target)
            guard t.current.version != target else {
                throw VaultError.invalidInput(reason: "version \(target) of \(name) is already current", hint: nil)
            }
            if let e = t.target.expiresAt, Timestamp.date(e) <= now, !allowExpired {
                throw VaultError.tokenExpired(name: name, version: target, expired: Timestamp.date(e))
            }
            let secret = try open(t)
            var r = try replaceCurrent(&w, t, secret: secret, expires: t.target.expiresAt.map(Timestamp.date), keep: keep)
            // The restored secret is the same console key as the version it came from.
            if !t.target.console.isEmpty {
                try TokenVersionRecord.updateConsole(w.db, tokenID: t.record.id!, version: r.current.version, t.target.console)
                var record = t.record
                try sealState(w, &record)
                r.current.consoleID = t.target.console.id; r.current.consoleName = t.target.console.name
                r.current.consoleState = t.target.console.state?.rawValue
            }
            return r
        }
        if !result.pruned.isEmpty { result.walPurged = vault.store.purgeWAL() }
        return result
    }

    /// Deletes a token and every version (secure_delete overwrites the freed pages, and the
    /// WAL is checkpointed and truncated). Returns false when another process kept the WAL
    /// alive (see `VaultStore.purgeWAL`).
    @discardableResult
    public func remove(_ name: String) throws(VaultError) -> Bool {
        try perform("remove", subjects: [AuditSubject(name: name)]) { w in
            let t = try resolve(w.db, name)
            let count = try t.record.deleteWithVersions(w.db)
            w.subjects = [AuditSubject(name: name, version: t.current.version)]
            w.details["versions"] = "\(count)"
        }
        return vault.store.purgeWAL()
    }

    // MARK: - Revealing

    /// Decrypts one version (default: current) of `name`. The audit row is committed before the
    /// secret is returned; if it cannot be written the secret is dropped (zeroed) and
    /// `auditWriteFailed` is thrown. Expired versions throw `tokenExpired` unless allowed.
    public func reveal(_ name: String, version: Int? = nil, allowExpired: Bool = false, action: String = "reveal",
                       details: [String: String] = [:]) throws(VaultError) -> RevealedToken {
        try revealMany([(name, version)], allowExpired: allowExpired, action: action, details: details)[0]
    }

    /// Decrypts several tokens under one unlock and one audit row, committed before they are
    /// returned (no audit, no access). `prepare` runs on the decrypted tokens inside the same
    /// transaction (e.g. rendering an export format that may refuse a value), so a refused
    /// export is audited as an error only.
    public func revealMany(_ requests: [(name: String, version: Int?)], allowExpired: Bool = false, action: String = "reveal",
                           details: [String: String] = [:],
                           prepare: ([RevealedToken]) throws(VaultError) -> Void = { _ in }) throws(VaultError) -> [RevealedToken] {
        try perform(action, subjects: requests.map { AuditSubject(name: $0.name, version: $0.version) }, details: details,
                    releasesSecrets: true) { w in
            let revealed = try decryptAll(w.db, requests, allowExpired: allowExpired)
            try prepare(revealed)
            w.subjects = revealed.map { AuditSubject(name: $0.name, version: $0.version) }
            return revealed
        }
    }

    // MARK: - Keys

    /// Rewraps the master key under a KEK derived from `passphrase` with `parameters` and a new
    /// salt. O(1): no token row is touched. Used by `passwd` and `kdf set`. The new salt
    /// already ends every session of the vault; this process's own session key is dropped too.
    public func rewrap(passphrase: borrowing SecureBytes, parameters: KDFParameters, targetMilliseconds: Int64? = nil,
                      action: String = "passwd") throws(VaultError) {
        try parameters.validate()
        try Passphrase.validate(passphrase)
        let salt = Sodium.randomBytes(KDF.saltBytes)
        let kek = try KDF.deriveKEK(passphrase: passphrase, salt: salt, parameters: parameters)
        let (nonce, wrapped) = master.wrap(vaultID: vaultID, kek: kek)
        try perform(action, subjects: [], details: ["ops": "\(parameters.opsLimit)", "memory": ByteSize.format(parameters.memLimit)]) { w in
            let db = w.db
            try faultInjection?("\(action).header")
            try VaultHeaderRecord.rewrap(db, parameters: parameters, targetMilliseconds: targetMilliseconds, salt: salt,
                                         nonce: nonce, wrapped: wrapped, now: Timestamp.seconds(now))
        }
        _ = try? vault.lock()
    }

    // MARK: - Audit chain

    /// Seals pending rows, records this verification, and walks the whole chain.
    public func verifyAudit(expectHead: AuditHead? = nil) throws(VaultError) -> AuditVerification {
        let result = try vault.store.read { db in try AuditChain.verify(db, key: auditKey, epochs: try auditEpochs(db), expectHead: expectHead) }
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


    // MARK: - The one audit path

    /// A write transaction that already holds its command's audit row.
    struct AuditedWrite {
        let db: Database
        /// The seq of this command's audit row (state MACs name it).
        let seq: Int64
        /// What the row will record; the body may refine both before it is sealed.
        var subjects: [AuditSubject]
        var details: [String: String]
    }

    /// Runs `body` in one IMMEDIATE transaction together with its audit row: the row is
    /// appended first (so the body knows its seq), updated with what the body found, and
    /// sealed with every pending row before the commit. On failure the transaction rolls back
    /// and a separate error row is recorded. With `releasesSecrets`, a failure to write or
    /// commit the audit row is `auditWriteFailed`, and whatever the body returned is dropped.
    @discardableResult
    func perform<T>(_ action: String, subjects: [AuditSubject], details: [String: String] = [:], releasesSecrets: Bool = false,
                    _ body: (inout AuditedWrite) throws -> T) throws(VaultError) -> T {
        var bodyError: VaultError?
        do throws(VaultError) {
            return try vault.store.write { db in
                // The row names no token until the body is done, so the freshness check of the
                // tokens it resolves does not mistake this very row for a later change.
                try checkKeysUnchanged(db)
                let details = annotated(details)
                let seq = try vault.appendAudit(db, action: action, subjects: [], details: details)
                var w = AuditedWrite(db: db, seq: seq, subjects: subjects, details: details)
                let result: T
                do {
                    result = try body(&w)
                } catch {
                    bodyError = VaultStore.mapDatabaseError(error)
                    throw error
                }
                try faultInjection?("\(action).beforeCommit")
                // Marks the rows of commands that maintain state MACs: once one is sealed, a NULL
                // state MAC can only mean tampering (see sealLegacyState).
                if StateMAC.changingActionNames.contains(action) { w.details["state"] = "sealed" }
                try db.execute(sql: "UPDATE audit_log SET tokens = ?, details = ? WHERE seq = ?",
                               arguments: [AuditChain.json(w.subjects), JSONText.object(w.details), seq])
                try AuditChain.sealPending(db, key: auditKey, own: seq)
                return result
            }
        } catch {
            // A file found tampered while sealing stays that error (exit 7), as does a key change
            // by another process (exit 24); any other failure to
            // write the row of a release is "no audit, no access" (exit 17).
            let tampered: Bool = switch error { case .corruptVault, .schemaTampered, .keysChanged: true; default: false }
            let reported = bodyError ?? (releasesSecrets && !tampered ? .auditWriteFailed(reason: error.description) : error)
            recordFailure(action, subjects: subjects, details: details, error: reported)
            throw reported
        }
    }

    /// Appends a sealed audit row for an operation that happens outside the vault (e.g. `exec`).
    public func record(_ action: String, subjects: [AuditSubject] = [], details: [String: String] = [:], error: VaultError? = nil) throws(VaultError) {
        try vault.store.write { db in
            try appendSealed(db, action: action, subjects: subjects, details: details,
                             outcome: error == nil ? "ok" : "error", reason: error?.description)
        }
    }

    func recordFailure(_ action: String, subjects: [AuditSubject], details: [String: String], error: VaultError) {
        try? record(action, subjects: subjects, details: details, error: error)
    }

    func appendSealed(_ db: Database, action: String, subjects: [AuditSubject] = [], details: [String: String] = [:],
                      outcome: String = "ok", reason: String? = nil) throws {
        let seq = try vault.appendAudit(db, action: action, subjects: subjects, details: annotated(details), outcome: outcome, reason: reason)
        try seal(db, own: seq)
    }

    /// Seals the pending rows (this command's `own` among them) under this vault's audit key —
    /// after checking, inside the same write transaction, that the header still holds the
    /// wrapped key this vault was opened from. A `rekey`, `passwd` or `kdf set` that committed
    /// since (in another process, or while this one waited for input) would otherwise get rows
    /// sealed under a retired audit key and tokens sealed under a retired master key.
    func seal(_ db: Database, own: Int64?) throws {
        try checkKeysUnchanged(db)
        try AuditChain.sealPending(db, key: auditKey, own: own)
    }

    /// Throws `keysChanged` unless the header still holds the wrapped key this vault was
    /// opened from. Called first in every write transaction (which is IMMEDIATE, so nothing
    /// can change the header until it ends).
    func checkKeysUnchanged(_ db: Database) throws {
        let row = try Row.fetchOne(db, sql: "SELECT wrap_nonce, wrapped_key FROM vault_header WHERE id = 1")
        let nonce = try row?.blob("wrap_nonce", "vault_header"), key = try row?.blob("wrapped_key", "vault_header")
        guard let nonce, let key, Array(nonce) == wrappedFrom.nonce, Array(key) == wrappedFrom.key else {
            throw VaultError.keysChanged
        }
    }

    /// `details` plus `"session": "keyring"` when this vault was unlocked from a session
    /// (a session's own `unlock`/`lock` rows already say "start"/"end").
    func annotated(_ details: [String: String]) -> [String: String] {
        guard session != nil, details["session"] == nil else { return details }
        var d = details
        d["session"] = "keyring"
        return d
    }

    // MARK: - Metadata and state MACs

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

    /// Re-reads the token's versions and stores their state MAC, naming this command's audit
    /// row. Returns the current version.
    @discardableResult
    func sealState(_ w: AuditedWrite, _ record: inout TokenRecord) throws -> VersionState {
        let versions = try VersionState.all(tokenID: record.id!, w.db)
        record.stateSeq = w.seq
        record.stateMac = Data(try StateMAC.mac(key: metadataKey, vaultID: vaultID, tokenID: record.id!, stateSeq: w.seq, versions: versions, bound: .init(record)))
        try record.updateState(w.db)
        return try StateMAC.currentVersion(versions, name: record.name)
    }

    /// Throws unless `versions` are well formed and match the token's state MAC. Returns the
    /// current version. Freshness against the audit log is checked separately (`checkFresh`).
    func checkState(_ record: TokenRecord, _ versions: [VersionState]) throws(VaultError) -> VersionState {
        guard let seq = record.stateSeq, let stored = record.stateMac else { throw .stateUnsealed(name: record.name) }
        let current = try StateMAC.currentVersion(versions, name: record.name)
        let expected = try StateMAC.mac(key: metadataKey, vaultID: vaultID, tokenID: record.id!, stateSeq: seq, versions: versions, bound: .init(record))
        guard expected.withUnsafeBytes({ a in stored.withUnsafeBytes { b in Sodium.constantTimeEqual(a, b) } }) else {
            throw .stateTampered(name: record.name, reason: "its current version, an expiry or a kept version was changed outside v1vault")
        }
        return current
    }

    /// One walk over the sealed audit rows after `seq`, verifying their MAC chain from row
    /// `seq` on, and returning the newest successful change row naming each token (name → seq).
    /// The freshness check relies on those rows, so an edited one — say one that no longer names
    /// the token it changed — must not pass for an honest one: the walk throws instead.
    func verifiedChanges(_ db: Database, after seq: Int64, name: String) throws -> [String: Int64] {
        let tail = try AuditChain.verify(db, key: auditKey, epochs: try auditEpochs(db), expectHead: nil, from: seq)
        if let problem = tail.problem {
            throw VaultError.stateTampered(name: name, reason: "the audit log after its last change does not verify (\(problem))")
        }
        return tail.changes
    }

    /// Throws if a successful audit row newer than the one the state MAC names changed this
    /// token: its rows were replaced by an older authenticated copy (a partial rollback).
    func checkFresh(_ record: TokenRecord, newestChange: Int64?) throws(VaultError) {
        if let newest = newestChange, newest > record.stateSeq! {
            throw .stateTampered(name: record.name, reason: "audit row \(newest) changed it after the state stored (audit row \(record.stateSeq!)): its rows were rolled back")
        }
    }

    /// Seals the metadata of every token that has no MAC (vaults from before schema 2), after the
    /// user has checked it — only tokens `vouchable` allows: never one whose MACs the audit log
    /// shows were sealed before (someone stripped them to get a forged state vouched for).
    /// Returns the names and base URLs sealed, and the tokens refused with why; audited.
    public func sealLegacyMetadata() throws(VaultError) -> (sealed: [(name: String, baseURL: String)], refused: [(name: String, why: String)]) {
        try perform("seal-metadata", subjects: []) { w in
            let verdicts = try vouchable(w.db)
            var sealed: [(String, String)] = [], refused: [(String, String)] = []
            for var legacy in try TokenRecord.fetchAll(w.db, sql: "SELECT * FROM tokens WHERE meta_mac IS NULL ORDER BY name") {
                if let why = verdicts[legacy.name] ?? "it is not in the audit log" { refused.append((legacy.name, why)); continue }
                try sealMetadata(w.db, &legacy)
                sealed.append((legacy.name, legacy.baseUrl))
            }
            w.subjects = sealed.map { AuditSubject(name: $0.0) }
            if !refused.isEmpty { w.details["refused"] = refused.map(\.0).joined(separator: ",") }
            return (sealed, refused)
        }
    }

    /// Per token without a metadata or state MAC: nil when v1vault may vouch for it (seal what
    /// the file holds now), else why not. Only a token left from before schema 2 qualifies:
    /// the audit chain verifies; a sealed `add`, `import` or `rename` row named it before the
    /// first row that carries the state marker (the upgrade to schema 3); no row with that
    /// marker, nor a `seal-metadata`/`seal-state` row, ever named it (its MACs existed — a
    /// token without them now was stripped); and it has nothing a pre-schema-5 token cannot
    /// have (a console link, the manager mark, its own warning window).
    func vouchable(_ db: Database) throws -> [String: String?] {
        let candidates = try String.fetchAll(db, sql: "SELECT name FROM tokens WHERE meta_mac IS NULL OR state_mac IS NULL OR state_seq IS NULL ORDER BY name")
        guard !candidates.isEmpty else { return [:] }
        let chain = try AuditChain.verify(db, key: auditKey, epochs: try auditEpochs(db), expectHead: nil)
        if let problem = chain.problem {
            return Dictionary(uniqueKeysWithValues: candidates.map { ($0, .some("the audit log does not verify (\(problem))")) })
        }
        let rows = try Row.fetchAll(db, sql: "SELECT seq, action, tokens, details FROM audit_log NOT INDEXED WHERE mac IS NOT NULL AND outcome = 'ok' ORDER BY seq").compactMap { row -> LegacyVouch.Row? in
            guard let seq = try? row.integer("seq", "audit_log"), let action = try? row.text("action", "audit_log"),
                  let tokens = try? row.text("tokens", "audit_log"), let details = try? row.text("details", "audit_log") else { return nil }
            return LegacyVouch.Row(seq: seq, action: action, names: StateMAC.names(inTokens: tokens) ?? [], stateMarked: details.contains(#""state":"sealed""#))
        }
        let schema5 = Set(try String.fetchAll(db, sql: """
            SELECT t.name FROM tokens t WHERE t.manager != 0 OR t.warn_days IS NOT NULL
               OR EXISTS (SELECT 1 FROM token_versions v WHERE v.token_id = t.id AND (v.console_id IS NOT NULL OR v.console_name IS NOT NULL OR v.console_state IS NOT NULL))
            """))
        return LegacyVouch.verdicts(candidates: candidates, rows: rows, schema5: schema5)
    }

    /// Seals the version state of every token that has none and whose metadata verifies, under
    /// one `seal-state` audit row naming them. `doctor --seal-metadata` calls it after the user
    /// vouched; the first unlock after an upgrade to schema 3 calls it with `onlyIfNeverSealed`,
    /// which seals only if the authenticated audit chain is intact and shows the vault was never
    /// at schema 3 before (no sealed row marked `"state":"sealed"`): otherwise NULLs mean someone
    /// downgraded the file or deleted MACs, and they stay NULL, failing closed.
    /// Returns each token sealed with the current version it vouched for.
    @discardableResult
    public func sealLegacyState(onlyIfNeverSealed: Bool = false) throws(VaultError) -> [(name: String, current: TokenVersionInfo)] {
        let unsealed = try vault.store.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM tokens WHERE state_mac IS NULL OR state_seq IS NULL") ?? 0
        }
        guard unsealed > 0 else { return [] }
        if onlyIfNeverSealed {
            let (chain, marked) = try vault.store.read { db in
                (try AuditChain.verify(db, key: auditKey, epochs: try auditEpochs(db), expectHead: nil),
                 try Bool.fetchOne(db, sql: """
                    SELECT EXISTS (SELECT 1 FROM audit_log NOT INDEXED WHERE mac IS NOT NULL AND instr(details, '"state":"sealed"') > 0)
                    """) ?? true)
            }
            // An intact chain with no sealed row at all proves nothing (every MAC may have been
            // cleared); a real vault's `init` row is always sealed.
            guard chain.intact, chain.sealedRows > 0, !marked else { return [] }
        }
        return try perform("seal-state", subjects: []) { w in
            let verdicts = onlyIfNeverSealed ? [:] : try vouchable(w.db)
            var sealed: [(name: String, current: TokenVersionInfo)] = []
            for var t in try TokenRecord.fetchAll(w.db, sql: "SELECT * FROM tokens WHERE state_mac IS NULL OR state_seq IS NULL ORDER BY name") {
                guard (try? checkMetadata(t)) != nil else { continue }
                if !onlyIfNeverSealed, (verdicts[t.name] ?? "not in the audit log") != nil { continue }
                let current = try sealState(w, &t)
                sealed.append((t.name, TokenVersionInfo(version: current.version, created: Timestamp.date(current.createdAt),
                                                        expires: current.expiresAt.map(Timestamp.date), retired: nil)))
            }
            w.subjects = sealed.map { AuditSubject(name: $0.name) }
            return sealed
        }
    }

    /// The shape of a console link given to `add`/`rotate` (`--console-id`, `--console-name`).
    public static func checkLink(_ link: ConsoleLink) throws(VaultError) {
        if let id = link.id, !ConsoleLink.isValidID(id) {
            throw .invalidInput(reason: "invalid console id \(displayName(id))", hint: "the id shown in Administration > API Keys (a UUID)")
        }
        if let n = link.name, !ConsoleLink.isValidName(n) { throw .invalidInput(reason: "invalid console name \(displayName(n))", hint: nil) }
    }

    public static func checkKeep(_ keep: Int) throws(VaultError) {
        guard (1...1000).contains(keep) else {
            throw .invalidInput(reason: "--keep must be between 1 and 1000", hint: nil)
        }
    }

    // MARK: - The token resolver

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
    func resolve(_ db: Database, _ name: String, version: Int? = nil, changes: [String: Int64]? = nil) throws -> ResolvedToken {
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
        try retired.updateRetiredAt(db)
        try faultInjection?("rotate.retired")
        let maxVersion = try Int.fetchOne(db, sql: "SELECT max(version) FROM token_versions WHERE token_id = ?", arguments: [id]) ?? 0
        guard maxVersion < Int(UInt32.max) else {
            throw VaultError.invalidInput(reason: "token \(t.record.name) has reached the last version number", hint: "remove and add it again")
        }
        let new = try insertVersion(db, tokenID: id, version: maxVersion + 1, secret: secret, expires: expires, console: console)
        try faultInjection?("rotate.inserted")
        let stale = try Int.fetchAll(db, sql: """
            SELECT version FROM token_versions WHERE token_id = ? ORDER BY version DESC LIMIT -1 OFFSET ?
            """, arguments: [id, keep])
        if !stale.isEmpty {
            try db.execute(sql: "DELETE FROM token_versions WHERE token_id = ? AND version IN (\(stale.map(String.init).joined(separator: ",")))",
                           arguments: [id])
        }
        var record = t.record
        try sealState(w, &record)
        w.subjects = [AuditSubject(name: record.name, version: new.version)]
        w.details["previous"] = "\(t.current.version)"
        if !stale.isEmpty { w.details["pruned"] = stale.sorted().map(String.init).joined(separator: ",") }
        return RotationResult(current: Vault.info(new), previous: Vault.info(retired), pruned: stale.sorted())
    }

    /// Seals and inserts a version; the sealed plaintext binds vault, token and version.
    func insertVersion(_ db: Database, tokenID: Int64, version: Int, secret: borrowing SecureBytes, expires: Date?,
                       retiredAt: Int64? = nil, console: ConsoleLink = ConsoleLink()) throws -> TokenVersionRecord {
        var scratch = SecureBytes(capacity: SealedEntry.bindingBytes + secret.count, empty: true)
        return try secret.withUnsafeBytes { raw in
            try insertVersion(db, tokenID: tokenID, version: version, token: raw, expires: expires, scratch: &scratch,
                              retiredAt: retiredAt, console: console)
        }
    }

    /// The same for bulk inserts: seals through a scratch buffer reused across calls.
    func insertVersion(_ db: Database, tokenID: Int64, version: Int, token: UnsafeRawBufferPointer, expires: Date?,
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
    func decryptAll(_ db: Database, _ requests: [(name: String, version: Int?)], allowExpired: Bool) throws -> [RevealedToken] {
        // Few tokens: one walk each from its own state. Many: one walk from the oldest state.
        var changes: [String: Int64]?
        if requests.count > 8 {
            let oldest = try Int64.fetchOne(db, sql: "SELECT min(state_seq) FROM tokens") ?? 1
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

extension UnlockedVault {
    /// The KDF parameters currently in the header.
    public func kdfParameters() throws(VaultError) -> KDFParameters {
        let header = try vault.store.read { db in try VaultHeaderRecord.fetch(db) }
        guard let p = header?.kdfParameters else { throw .corruptVault(reason: "vault header is missing") }
        return p
    }
}
