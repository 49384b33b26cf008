import Foundation
import GRDB

// Each record decodes its columns explicitly (`init(row:)`) rather than through Codable: GRDB's
// Codable path converts every snake_case key and instantiates generic decoders on each use,
// which measurably slowed every command (docs/PERFORMANCE.md). Writes are plain SQL (end of
// this file), except the header's (init, passwd, kdf set), which keeps GRDB's persistence
// methods. The initialisers live in extensions so that the memberwise ones remain.

/// The single `vault_header` row.
struct VaultHeaderRecord: FetchableRecord, PersistableRecord {
    static let databaseTableName = "vault_header"
    static let formatVersion = 1

    var id: Int64 = 1
    var formatVersion: Int
    var vaultId: Data
    var kdfAlgorithm: String
    var kdfOps: Int64
    var kdfMem: Int64
    var kdfSalt: Data
    var kdfTargetMs: Int64?
    var wrapNonce: Data
    var wrappedKey: Data
    var createdAt: Int64
    var updatedAt: Int64

    var kdfParameters: KDFParameters? {
        guard kdfOps > 0, kdfMem > 0 else { return nil }
        return KDFParameters(opsLimit: UInt64(kdfOps), memLimit: UInt64(kdfMem))
    }
}

/// One row of `tokens`: a named Vision One API key and its metadata.
struct TokenRecord: FetchableRecord, TableRecord {
    static let databaseTableName = "tokens"

    var id: Int64?
    var name: String
    var region: String?
    var baseUrl: String
    var role: String?
    var description: String?
    var permissions: String
    var createdAt: Int64
    var metaMac: Data?
    /// The audit row that last changed this token's versions, and the MAC over them (schema 3).
    var stateSeq: Int64? = nil
    var stateMac: Data? = nil

    enum Columns {
        static let name = Column("name")
        static let metaMac = Column("meta_mac")
    }

    var permissionList: [String] {
        (try? JSONDecoder().decode([String].self, from: Data(permissions.utf8))) ?? []
    }
}

/// One row of `token_versions`: a sealed secret and its lifetime.
struct TokenVersionRecord: FetchableRecord, TableRecord {
    static let databaseTableName = "token_versions"

    var tokenId: Int64
    var version: Int
    var nonce: Data
    var ciphertext: Data
    var createdAt: Int64
    var expiresAt: Int64?
    var retiredAt: Int64?

    enum Columns {
        static let tokenId = Column("token_id")
        static let version = Column("version")
    }
}

/// One row of `audit_log`.
struct AuditRecord: FetchableRecord, TableRecord {
    static let databaseTableName = "audit_log"

    var seq: Int64?
    var at: String
    var action: String
    var tokens: String
    var outcome: String
    var reason: String?
    var details: String
    var osUser: String
    var uid: Int64
    var host: String
    var pid: Int64
    var mac: Data?

    enum Columns {
        static let seq = Column("seq")
    }

}

extension VaultHeaderRecord {
    init(row: Row) throws {
        id = try row.decode(forColumn: "id")
        formatVersion = try row.decode(forColumn: "format_version")
        vaultId = try row.decode(forColumn: "vault_id")
        kdfAlgorithm = try row.decode(forColumn: "kdf_algorithm")
        kdfOps = try row.decode(forColumn: "kdf_ops")
        kdfMem = try row.decode(forColumn: "kdf_mem")
        kdfSalt = try row.decode(forColumn: "kdf_salt")
        kdfTargetMs = try row.decode(forColumn: "kdf_target_ms")
        wrapNonce = try row.decode(forColumn: "wrap_nonce")
        wrappedKey = try row.decode(forColumn: "wrapped_key")
        createdAt = try row.decode(forColumn: "created_at")
        updatedAt = try row.decode(forColumn: "updated_at")
    }

    func encode(to container: inout PersistenceContainer) {
        container["id"] = id
        container["format_version"] = formatVersion
        container["vault_id"] = vaultId
        container["kdf_algorithm"] = kdfAlgorithm
        container["kdf_ops"] = kdfOps
        container["kdf_mem"] = kdfMem
        container["kdf_salt"] = kdfSalt
        container["kdf_target_ms"] = kdfTargetMs
        container["wrap_nonce"] = wrapNonce
        container["wrapped_key"] = wrappedKey
        container["created_at"] = createdAt
        container["updated_at"] = updatedAt
    }
}

extension TokenRecord {
    init(row: Row) throws {
        id = try row.decode(forColumn: "id")
        name = try row.decode(forColumn: "name")
        region = try row.decode(forColumn: "region")
        baseUrl = try row.decode(forColumn: "base_url")
        role = try row.decode(forColumn: "role")
        description = try row.decode(forColumn: "description")
        permissions = try row.decode(forColumn: "permissions")
        createdAt = try row.decode(forColumn: "created_at")
        metaMac = try row.decode(forColumn: "meta_mac")
        stateSeq = try row.decode(forColumn: "state_seq")
        stateMac = try row.decode(forColumn: "state_mac")
    }
}

extension TokenVersionRecord {
    init(row: Row) throws {
        tokenId = try row.decode(forColumn: "token_id")
        version = try row.decode(forColumn: "version")
        nonce = try row.decode(forColumn: "nonce")
        ciphertext = try row.decode(forColumn: "ciphertext")
        createdAt = try row.decode(forColumn: "created_at")
        expiresAt = try row.decode(forColumn: "expires_at")
        retiredAt = try row.decode(forColumn: "retired_at")
    }
}

extension AuditRecord {
    init(row: Row) throws {
        seq = try row.decode(forColumn: "seq")
        at = try row.decode(forColumn: "at")
        action = try row.decode(forColumn: "action")
        tokens = try row.decode(forColumn: "tokens")
        outcome = try row.decode(forColumn: "outcome")
        reason = try row.decode(forColumn: "reason")
        details = try row.decode(forColumn: "details")
        osUser = try row.decode(forColumn: "os_user")
        uid = try row.decode(forColumn: "uid")
        host = try row.decode(forColumn: "host")
        pid = try row.decode(forColumn: "pid")
        mac = try row.decode(forColumn: "mac")
    }
}

// MARK: - The lookups every command makes, as plain SQL over the indexes the schema defines
// (statements in loops are cached per connection: `export --all` runs them once per token)

extension VaultHeaderRecord {
    static func fetch(_ db: Database) throws -> VaultHeaderRecord? {
        try fetchOne(db, sql: "SELECT * FROM vault_header WHERE id = 1")
    }
}

extension TokenRecord {
    /// The token named `name` (the unique index on `tokens.name`).
    static func named(_ name: String, _ db: Database) throws -> TokenRecord? {
        try fetchOne(db.cachedStatement(sql: "SELECT * FROM tokens WHERE name = ?"), arguments: [name])
    }

    static func exists(_ name: String, _ db: Database) throws -> Bool {
        try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM tokens WHERE name = ?)"), arguments: [name]) ?? false
    }
}

extension TokenVersionRecord {
    /// The current version (the partial unique index `token_versions_one_current`).
    static func current(tokenID: Int64, _ db: Database) throws -> TokenVersionRecord? {
        try fetchOne(db.cachedStatement(sql: "SELECT * FROM token_versions WHERE token_id = ? AND retired_at IS NULL"), arguments: [tokenID])
    }

    /// Version `version` of the token (the primary key).
    static func version(_ version: Int, tokenID: Int64, _ db: Database) throws -> TokenVersionRecord? {
        try fetchOne(db.cachedStatement(sql: "SELECT * FROM token_versions WHERE token_id = ? AND version = ?"), arguments: [tokenID, version])
    }
}

extension VersionState {
    /// Every kept version of a token, oldest first (the primary key; no secret is read).
    static func all(tokenID: Int64, _ db: Database) throws -> [VersionState] {
        try Row.fetchAll(db.cachedStatement(sql: """
            SELECT version, created_at, expires_at, retired_at FROM token_versions WHERE token_id = ? ORDER BY version
            """), arguments: [tokenID]).map { row in
            VersionState(version: try row.decode(forColumn: "version"), createdAt: try row.decode(forColumn: "created_at"),
                         expiresAt: try row.decode(forColumn: "expires_at"), retiredAt: try row.decode(forColumn: "retired_at"))
        }
    }
}

extension AuditRecord {
    /// The seq of the newest successful audit row after `seq` that changed the versions of the
    /// token named `name` (the partial index `audit_log_state_changes`), or nil.
    static func lastStateChange(of name: String, after seq: Int64, _ db: Database) throws -> Int64? {
        try Int64.fetchOne(db.cachedStatement(sql: """
            SELECT max(a.seq) FROM audit_log a, json_each(a.tokens) j
            WHERE a.outcome = 'ok' AND a.action IN \(StateMAC.changingActions) AND a.seq > ?
              AND json_extract(j.value, '$.name') = ?
            """), arguments: [seq, name])
    }

    /// The same for many tokens in one pass: name → newest changing row after `seq`.
    static func lastStateChanges(after seq: Int64, _ db: Database) throws -> [String: Int64] {
        var out: [String: Int64] = [:]
        let rows = try Row.fetchCursor(db, sql: """
            SELECT json_extract(j.value, '$.name') AS name, max(a.seq) AS seq FROM audit_log a, json_each(a.tokens) j
            WHERE a.outcome = 'ok' AND a.action IN \(StateMAC.changingActions) AND a.seq > ?
            GROUP BY 1
            """, arguments: [seq])
        while let row = try rows.next() {
            if let name: String = try row.decode(forColumn: "name") { out[name] = try row.decode(forColumn: "seq") }
        }
        return out
    }

    /// The newest sealed row: the head of the chain.
    static func lastSealed(_ db: Database) throws -> AuditRecord? {
        try fetchOne(db, sql: "SELECT * FROM audit_log WHERE mac IS NOT NULL ORDER BY seq DESC LIMIT 1")
    }

    /// Unsealed rows after `seq`, oldest first.
    static func pending(after seq: Int64, _ db: Database) throws -> [AuditRecord] {
        try fetchAll(db, sql: "SELECT * FROM audit_log WHERE mac IS NULL AND seq > ? ORDER BY seq", arguments: [seq])
    }
}

// MARK: - The writes of add, rotate, rollback, import and remove, as plain SQL
// GRDB's persistence methods (insert, update) instantiate their generic machinery on first use
// in each process, about 0.5 ms measured per command; these statements are cached per
// connection, so import reuses them for every token.

extension TokenRecord {
    /// Inserts the row and sets `id`. The MAC comes after, since it covers the id.
    mutating func insertRow(_ db: Database) throws {
        try db.cachedStatement(sql: """
            INSERT INTO tokens (name, region, base_url, role, description, permissions, created_at, meta_mac)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [name, region, baseUrl, role, description, permissions, createdAt, metaMac])
        id = db.lastInsertedRowID
    }

    func updateState(_ db: Database) throws {
        try db.cachedStatement(sql: "UPDATE tokens SET state_seq = ?, state_mac = ? WHERE id = ?").execute(arguments: [stateSeq, stateMac, id])
    }

    func updateMetaMac(_ db: Database) throws {
        try db.cachedStatement(sql: "UPDATE tokens SET meta_mac = ? WHERE id = ?").execute(arguments: [metaMac, id])
    }

    /// Deletes the token and its versions; returns how many versions there were.
    func deleteWithVersions(_ db: Database) throws -> Int {
        try db.execute(sql: "DELETE FROM token_versions WHERE token_id = ?", arguments: [id])
        let versions = db.changesCount
        try db.execute(sql: "DELETE FROM tokens WHERE id = ?", arguments: [id])
        return versions
    }
}

extension TokenVersionRecord {
    func insertRow(_ db: Database) throws {
        try db.cachedStatement(sql: """
            INSERT INTO token_versions (token_id, version, nonce, ciphertext, created_at, expires_at, retired_at)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [tokenId, version, nonce, ciphertext, createdAt, expiresAt, retiredAt])
    }

    func updateRetiredAt(_ db: Database) throws {
        try db.execute(sql: "UPDATE token_versions SET retired_at = ? WHERE token_id = ? AND version = ?",
                       arguments: [retiredAt, tokenId, version])
    }
}
