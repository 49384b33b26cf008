import Foundation
import VaultFormat
import VaultStorage

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
            // Its follows and received mark go with it: the sharing state is checked first (always:
            // deciding from an unverified read let a row taken out and put back survive, red team
            // B) and sealed again after (a token nobody shares leaves the sharing rows alone).
            let sharing = try verifiedSharing(w.db)
            if sharing.follows.contains(where: { $0.tokenID == t.record.id! }) || sharing.mark(tokenID: t.record.id!) != nil {
                w.sharingChanged = true
            }
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

    // MARK: - Validators

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
}

extension UnlockedVault {
    /// The KDF parameters currently in the header.
    public func kdfParameters() throws(VaultError) -> KDFParameters {
        let header = try vault.store.read { db in try VaultHeaderRecord.fetch(db) }
        guard let p = header?.kdfParameters else { throw .corruptVault(reason: "vault header is missing") }
        return p
    }
}
