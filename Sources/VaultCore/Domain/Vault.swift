import Foundation
import VaultFormat
import VaultStorage

/// One kept version of a token, without its secret.
public struct TokenVersionInfo: Codable, Sendable, Equatable {
    public var version: Int
    public var created: Date
    public var expires: Date?
    public var retired: Date?
    /// The console key this version is (schema 5).
    public var consoleID: String? = nil
    public var consoleName: String? = nil
    public var consoleState: String? = nil
    public var state: String { retired == nil ? "current" : "retired" }

    enum CodingKeys: String, CodingKey {
        case version, created, expires, retired
        case consoleID = "console_id", consoleName = "console_name", consoleState = "console_state"
    }
}

/// A token's metadata and current version, as `list` and `show` print it.
public struct TokenSummary: Sendable, Equatable {
    public var name: String
    public var metadata: TokenMetadata
    public var created: Date
    public var current: TokenVersionInfo
    public var versionCount: Int
    /// The token's own warning window in days (nil: the default rule), schema 5.
    public var warnDays: Int? = nil
    /// Whether it is its base URL's manager key (`vault manager set`).
    public var manager = false

    /// The expiry status with the token's own window, if any.
    public func status(now: Date, warnDays global: Int) -> ExpiryStatus {
        ExpiryStatus.of(expires: current.expires, created: current.created, now: now, warnDays: global, own: warnDays)
    }
}

/// An open vault file. Metadata can be read without the passphrase; `unlock` yields the keys.
public final class Vault {
    public let store: VaultStore
    public let clock: Clock
    public let actor: AuditActor
    /// Days before expiry at which a token counts as "expiring" (V1VAULT_WARN_DAYS).
    public let warnDays: Int

    init(store: VaultStore, clock: Clock, actor: AuditActor, warnDays: Int) {
        self.store = store; self.clock = clock; self.actor = actor; self.warnDays = warnDays
    }

    public var path: String { store.path }

    // MARK: - Create and open

    /// Creates a vault at `path` with a fresh master key wrapped under the passphrase.
    public static func create(at path: String, passphrase: borrowing SecureBytes, parameters: KDFParameters,
                              targetMilliseconds: Int64? = nil, clock: Clock = .system, actor: AuditActor = .current,
                              warnDays: Int = ExpiryStatus.defaultWarnDays) throws(VaultError) -> Vault {
        try parameters.validate()
        try Passphrase.validate(passphrase)
        let store = try VaultStore.create(at: path)
        let vault = Vault(store: store, clock: clock, actor: actor, warnDays: warnDays)
        do {
            let vaultID = Sodium.randomBytes(16)
            let salt = Sodium.randomBytes(KDF.saltBytes)
            let kek = try KDF.deriveKEK(passphrase: passphrase, salt: salt, parameters: parameters)
            let master = MasterKey.generate()
            let (nonce, wrapped) = master.wrap(vaultID: vaultID, kek: kek)
            let now = Timestamp.seconds(clock.now())
            let header = VaultHeaderRecord(formatVersion: VaultHeaderRecord.formatVersion, vaultId: Data(vaultID),
                                           kdfAlgorithm: "argon2id13", kdfOps: Int64(parameters.opsLimit),
                                           kdfMem: Int64(parameters.memLimit), kdfSalt: Data(salt), kdfTargetMs: targetMilliseconds,
                                           wrapNonce: Data(nonce), wrappedKey: Data(wrapped), createdAt: now, updatedAt: now)
            let auditKey = master.subkey(context: MasterKey.auditContext)
            // The sharing identity (schema 6), sealed under the share key.
            let identity = ShareIdentity.generate()
            let sealedIdentity = identity.seal(vaultID: vaultID, key: master.subkey(context: MasterKey.shareContext))
            try store.write { db in
                try header.insertRow(db)
                try IdentityRow(agePublic: Data(identity.agePublic), signingPublic: Data(identity.signingPublic),
                                nonce: Data(sealedIdentity.nonce), sealed: Data(sealedIdentity.sealed), createdAt: now).insert(db)
                let initSeq = try vault.appendAudit(db, action: "init", details: [
                    "kdf": "argon2id13", "ops": "\(parameters.opsLimit)", "memory": ByteSize.format(parameters.memLimit),
                    "state": "sealed", "identity": "created", "sharing": "sealed",
                ])
                // The sharing state (schema 7): no recipients, follows or received marks yet.
                let stateMAC = ShareMAC.state(key: master.subkey(context: MasterKey.metadataContext), vaultID: vaultID, stateSeq: initSeq,
                                              recipients: [], follows: [], received: [])
                try SharingStateRow(stateSeq: initSeq, mac: Data(stateMAC)).save(db)
                try AuditChain.sealPending(db, key: auditKey, own: initSeq)
            }
            return vault
        } catch {
            unlink(path); unlink(path + "-wal"); unlink(path + "-shm")
            throw error
        }
    }

    /// Opens an existing vault (no passphrase needed yet).
    public static func open(at path: String, clock: Clock = .system, actor: AuditActor = .current,
                            warnDays: Int = ExpiryStatus.defaultWarnDays) throws(VaultError) -> Vault {
        Vault(store: try VaultStore.open(at: path), clock: clock, actor: actor, warnDays: warnDays)
    }

    // MARK: - Unlock

    /// Derives the KEK and unwraps the master key. A wrong passphrase is audited (unsealed)
    /// and throws `wrongPassphrase`. KDF parameters are bounds-checked before any work.
    public func unlock(passphrase: borrowing SecureBytes, action: String = "unlock") throws(VaultError) -> UnlockedVault {
        let header = try unlockHeader()
        let kek = try KDF.deriveKEK(passphrase: passphrase, salt: header.salt, parameters: header.parameters)
        guard let unlocked = try open(header, kek: kek) else {
            try? store.write { db in
                _ = try appendAudit(db, action: action, outcome: "error", reason: VaultError.wrongPassphrase.description)
            }
            throw .wrongPassphrase
        }
        return unlocked
    }

    /// The header fields an unlock uses, checked before any work: format version, KDF
    /// parameters within bounds, id and salt lengths.
    struct UnlockHeader {
        var vaultID: [UInt8]
        var salt: [UInt8]
        var parameters: KDFParameters
        var nonce: [UInt8]
        var wrapped: [UInt8]
    }

    func unlockHeader() throws(VaultError) -> UnlockHeader {
        let header = try store.read { db in try VaultHeaderRecord.fetch(db) }
        guard let header else { throw .corruptVault(reason: "vault header is missing") }
        guard header.formatVersion == VaultHeaderRecord.formatVersion else {
            throw .corruptVault(reason: "unknown header format version \(header.formatVersion)")
        }
        guard let params = header.kdfParameters else { throw .unsafeKDFParameters(reason: "non-positive ops or memory") }
        try params.validate()
        guard header.vaultId.count == 16, header.kdfSalt.count == KDF.saltBytes else {
            throw .corruptVault(reason: "vault header fields have the wrong length")
        }
        return UnlockHeader(vaultID: Array(header.vaultId), salt: Array(header.kdfSalt), parameters: params,
                            nonce: Array(header.wrapNonce), wrapped: Array(header.wrappedKey))
    }

    /// Unwraps the master key with `kek`; nil when it does not open this header.
    func open(_ header: UnlockHeader, kek: borrowing SecureBytes) throws(VaultError) -> UnlockedVault? {
        guard let master = MasterKey.unwrap(nonce: header.nonce, ciphertext: header.wrapped, vaultID: header.vaultID, kek: kek) else {
            return nil
        }
        let unlocked = UnlockedVault(vault: self, vaultID: header.vaultID, master: master, wrappedFrom: (header.nonce, header.wrapped))
        // This process added the state columns a moment ago, so their NULLs come from the old
        // schema, not from someone deleting MACs: seal the tokens' current state (audited as
        // `seal-state`). Any later NULL fails closed (SECURITY.md, "Token state MAC").
        if store.migrationsApplied.contains("0003_token_state_mac") {
            try unlocked.sealLegacyState(onlyIfNeverSealed: true)
        }
        return unlocked
    }

    // MARK: - Metadata (no passphrase)

    /// All tokens with their current version, sorted by name; with `pattern`, only the names
    /// that shell glob matches (`NamePattern`). Audited (unsealed) as `list`.
    public func list(matching pattern: String? = nil) throws(VaultError) -> [TokenSummary] {
        var result = try store.read { db in try Self.summaries(db, filter: nil) }
        if let pattern { result = result.filter { NamePattern.matches($0.name, glob: pattern) } }
        var details = ["count": "\(result.count)"]
        if let pattern { details["pattern"] = pattern }
        try recordUnsealed(action: "list", details: details)
        return result
    }

    /// One token's metadata and current version. Audited (unsealed) as `show`, unless the
    /// caller records its own row for the same command (`show --reveal` audits the reveal).
    public func show(_ name: String, audited: Bool = true) throws(VaultError) -> TokenSummary {
        do throws(VaultError) {
            let s = try store.read { db in try Self.summaries(db, filter: name) }
            guard let first = s.first else { throw VaultError.tokenNotFound(name: name) }
            if !audited { return first }
            try recordUnsealed(action: "show", subjects: [AuditSubject(name: name, version: first.current.version)])
            return first
        } catch {
            try? recordUnsealed(action: "show", subjects: [AuditSubject(name: name)], error: error)
            throw error
        }
    }

    /// Every kept version of a token, newest first. Audited (unsealed) as `history`.
    public func history(_ name: String) throws(VaultError) -> [TokenVersionInfo] {
        do throws(VaultError) {
            let versions: [TokenVersionInfo] = try store.read { db in
                guard let token = try TokenRecord.named(name, db) else {
                    throw VaultError.tokenNotFound(name: name)
                }
                return try TokenVersionRecord.all(tokenID: token.id!, db).map(Self.info)
            }
            try recordUnsealed(action: "history", subjects: [AuditSubject(name: name)])
            return versions
        } catch {
            try? recordUnsealed(action: "history", subjects: [AuditSubject(name: name)], error: error)
            throw error
        }
    }

    /// Current versions that are expired or expire within `window` of now, soonest first.
    /// Without a window: within each version's own warning window (`ExpiryStatus.window`:
    /// `warnDays`, or a third of its lifetime if less), as `list` and the export warnings see it.
    public func expiring(within window: DurationSpec?) throws(VaultError) -> [TokenSummary] {
        let now = clock.now()
        var result: [TokenSummary] = try store.read { db in
            let own = try TokenRecord.widestWarnDays(db)
            let horizon = window?.added(to: now) ?? now.addingTimeInterval(TimeInterval(max(warnDays, own)) * 86400)
            return try TokenSummaryRow.expiring(by: Timestamp.seconds(horizon), db).map(Self.summary)
        }
        if window == nil {
            result = result.filter { $0.status(now: now, warnDays: warnDays) != .ok }
        }
        let within = window.map { "\($0.amount)\($0.unit.rawValue)" } ?? "own window (\(warnDays)d at most)"
        try recordUnsealed(action: "expiring", details: ["within": within, "due": "\(result.count)"])
        return result
    }

    /// Audit entries matching `query`, oldest first (the newest `limit` when limited).
    public func auditEntries(_ query: AuditQuery) throws(VaultError) -> [AuditEntry] {
        try store.read { db in
            try AuditRecord.matching(token: query.token, action: query.action, since: query.since.map(AuditChain.timestamp),
                                     until: query.until.map(AuditChain.timestamp), limit: query.limit, db).map(AuditChain.entry)
        }
    }

    /// Files that `export -o` wrote from this version of `name` and that still exist: after a
    /// rotation they hold the old key. Only sealed, successful export rows count (a pending
    /// row may have been written by anyone who can write the file).
    public func exportedFiles(of name: String, version: Int) throws(VaultError) -> [String] {
        var seen = Set<String>()
        return try auditEntries(AuditQuery(token: name, action: "export")).compactMap { e -> String? in
            guard e.sealed, e.outcome == "ok", e.tokens.contains(where: { $0.name == name && $0.version == version }),
                  let d = e.details["destination"], d.hasPrefix("file:") else { return nil }
            let path = String(d.dropFirst("file:".count))
            guard path.hasPrefix("/"), FileManager.default.fileExists(atPath: path), seen.insert(path).inserted else { return nil }
            return path
        }
    }

    /// Appends an unsealed audit row (for commands that never unlock). Sealed at the next unlock.
    public func recordUnsealed(action: String, subjects: [AuditSubject] = [], details: [String: String] = [:], error: (any Error)? = nil) throws(VaultError) {
        try store.write { db in
            _ = try appendAudit(db, action: action, subjects: subjects, details: details,
                                outcome: error == nil ? "ok" : "error", reason: error.map { VaultStore.mapDatabaseError($0).description })
        }
    }

    // MARK: - Internals shared with UnlockedVault

    /// Appends one unsealed audit row inside the caller's transaction (UnlockedVault seals it)
    /// and returns its seq.
    @discardableResult
    func appendAudit(_ db: StoreTransaction, action: String, subjects: [AuditSubject] = [], details: [String: String] = [:],
                     outcome: String = "ok", reason: String? = nil) throws -> Int64 {
        try AuditRecord.append(at: AuditChain.timestamp(clock.now()), action: action, tokens: AuditChain.json(subjects), outcome: outcome,
                               reason: reason, details: JSONText.object(details), user: actor.user, uid: Int64(actor.uid),
                               host: actor.host, pid: Int64(actor.pid), db)
    }

    static func info(_ v: TokenVersionRecord) -> TokenVersionInfo {
        TokenVersionInfo(version: v.version, created: Timestamp.date(v.createdAt),
                         expires: v.expiresAt.map(Timestamp.date), retired: v.retiredAt.map(Timestamp.date),
                         consoleID: v.console.id, consoleName: v.console.name, consoleState: v.console.state?.rawValue)
    }

    static func metadata(_ t: TokenRecord) -> TokenMetadata {
        TokenMetadata(region: t.region.flatMap(Region.init(rawValue:)), baseURL: t.baseUrl, role: t.role,
                      description: t.description, permissions: t.permissionList)
    }

    static func summaries(_ db: StoreTransaction, filter name: String?) throws -> [TokenSummary] {
        try TokenSummaryRow.all(named: name, db).map(summary)
    }

    /// A token row joined with its current version.
    static func summary(_ row: TokenSummaryRow) -> TokenSummary {
        let t = row.token
        var current = TokenVersionInfo(version: row.version, created: Timestamp.date(row.created), expires: row.expires.map(Timestamp.date), retired: nil)
        current.consoleID = row.console.id; current.consoleName = row.console.name; current.consoleState = row.console.state?.rawValue
        return TokenSummary(name: t.name, metadata: metadata(t), created: Timestamp.date(t.createdAt),
                            current: current, versionCount: row.versionCount, warnDays: t.warnDays, manager: t.manager)
    }
}
