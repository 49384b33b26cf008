import Foundation
import GRDB
import VaultFormat

// Each record decodes its columns explicitly (`init(row:)`) rather than through Codable: GRDB's
// Codable path converts every snake_case key and instantiates generic decoders on each use,
// which measurably slowed every command (docs/PERFORMANCE.md). Writes are plain SQL (end of
// this file), except the header's (init, passwd, kdf set), which keeps GRDB's persistence
// methods. The initialisers live in extensions so that the memberwise ones remain.

// MARK: - Strict decoding
// The file is hostile: SQLite lets a writer store any type in any column (a BLOB where TEXT is
// declared, a REAL where INTEGER is), and GRDB would convert it — a BLOB "rotate" decodes to the
// same Swift String as the TEXT one, yet never equals 'rotate' in SQL. Every column is read
// with its exact storage class, and timestamps within years 1–9999, or the row is refused.

/// A stored value of the wrong storage class or out of range.
package struct StoredTypeError: Error, CustomStringConvertible {
    package let table: String, column: String, found: String
    package var description: String { "\(table).\(column) holds \(found)" }
}

extension DatabaseValue.Storage {
    /// The storage class, for an error message: "a blob", "text", …
    package var kind: String {
        switch self {
        case .null: return "NULL"
        case .int64: return "an integer"
        case .double: return "a real number"
        case .string: return "text"
        case .blob: return "a blob"
        }
    }
}

extension Row {
    package static let minTimestamp: Int64 = -62_135_596_800   // 0001-01-01T00:00:00Z
    package static let maxTimestamp: Int64 = 253_402_300_799   // 9999-12-31T23:59:59Z

    package func kind(_ column: String) -> String {
        (self[column] as DatabaseValue?).map { $0.storage.kind } ?? "no such column"
    }

    package func text(_ column: String, _ table: String) throws -> String {
        guard let v = self[column] as DatabaseValue?, case .string(let s) = v.storage else {
            throw StoredTypeError(table: table, column: column, found: kind(column))
        }
        return s
    }

    package func optionalText(_ column: String, _ table: String) throws -> String? {
        if (self[column] as DatabaseValue?)?.isNull == true { return nil }
        return try text(column, table)
    }

    package func integer(_ column: String, _ table: String) throws -> Int64 {
        guard let v = self[column] as DatabaseValue?, case .int64(let i) = v.storage else {
            throw StoredTypeError(table: table, column: column, found: kind(column))
        }
        return i
    }

    package func optionalInteger(_ column: String, _ table: String) throws -> Int64? {
        if (self[column] as DatabaseValue?)?.isNull == true { return nil }
        return try integer(column, table)
    }

    package func timestamp(_ column: String, _ table: String) throws -> Int64 {
        let t = try integer(column, table)
        guard (Self.minTimestamp...Self.maxTimestamp).contains(t) else {
            throw StoredTypeError(table: table, column: column, found: "the out-of-range time \(t)")
        }
        return t
    }

    package func optionalTimestamp(_ column: String, _ table: String) throws -> Int64? {
        if (self[column] as DatabaseValue?)?.isNull == true { return nil }
        return try timestamp(column, table)
    }

    package func blob(_ column: String, _ table: String) throws -> Data {
        guard let v = self[column] as DatabaseValue?, case .blob(let d) = v.storage else {
            throw StoredTypeError(table: table, column: column, found: kind(column))
        }
        return d
    }

    package func optionalBlob(_ column: String, _ table: String) throws -> Data? {
        if (self[column] as DatabaseValue?)?.isNull == true { return nil }
        return try blob(column, table)
    }
}

// MARK: - The rows' tables and columns (their values are VaultFormat's Rows.swift)

extension VaultHeaderRecord: FetchableRecord, PersistableRecord {
    package static let databaseTableName = "vault_header"
}

extension TokenRecord: FetchableRecord, TableRecord {
    package static let databaseTableName = "tokens"
    package enum Columns {
        package static let name = Column("name")
        package static let metaMac = Column("meta_mac")
    }
}

extension TokenVersionRecord: FetchableRecord, TableRecord {
    package static let databaseTableName = "token_versions"
    package enum Columns {
        package static let tokenId = Column("token_id")
        package static let version = Column("version")
    }
}

extension AuditRecord: FetchableRecord, TableRecord {
    package static let databaseTableName = "audit_log"
    package enum Columns {
        package static let seq = Column("seq")
    }
}

extension VaultHeaderRecord {
    package init(row: Row) throws {
        let t = "vault_header"
        let id = try row.integer("id", t)
        let formatVersion = Int(try row.integer("format_version", t))
        let vaultId = try row.blob("vault_id", t)
        let kdfAlgorithm = try row.text("kdf_algorithm", t)
        let kdfOps = try row.integer("kdf_ops", t)
        let kdfMem = try row.integer("kdf_mem", t)
        let kdfSalt = try row.blob("kdf_salt", t)
        let kdfTargetMs = try row.optionalInteger("kdf_target_ms", t)
        let wrapNonce = try row.blob("wrap_nonce", t)
        let wrappedKey = try row.blob("wrapped_key", t)
        let createdAt = try row.timestamp("created_at", t)
        let updatedAt = try row.timestamp("updated_at", t)
        self.init(id: id, formatVersion: formatVersion, vaultId: vaultId, kdfAlgorithm: kdfAlgorithm, kdfOps: kdfOps, kdfMem: kdfMem, kdfSalt: kdfSalt, kdfTargetMs: kdfTargetMs, wrapNonce: wrapNonce, wrappedKey: wrappedKey, createdAt: createdAt, updatedAt: updatedAt)
    }

    package func encode(to container: inout PersistenceContainer) {
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
    package init(row: Row) throws {
        let t = "tokens"
        var warnDays: Int?
        if let w = try row.optionalInteger("warn_days", t) {
            guard (0...3650).contains(w) else { throw StoredTypeError(table: t, column: "warn_days", found: "\(w)") }
            warnDays = Int(w)
        }
        let m = try row.integer("manager", t)
        guard m == 0 || m == 1 else { throw StoredTypeError(table: t, column: "manager", found: "\(m)") }
        self.init(id: try row.integer("id", t), name: try row.text("name", t), region: try row.optionalText("region", t),
                  baseUrl: try row.text("base_url", t), role: try row.optionalText("role", t),
                  description: try row.optionalText("description", t), permissions: try row.text("permissions", t),
                  createdAt: try row.timestamp("created_at", t), metaMac: try row.optionalBlob("meta_mac", t),
                  stateSeq: try row.optionalInteger("state_seq", t), stateMac: try row.optionalBlob("state_mac", t),
                  warnDays: warnDays, manager: m == 1)
    }
}

extension TokenVersionRecord {
    package init(row: Row) throws {
        let t = "token_versions"
        let tokenId = try row.integer("token_id", t)
        let version = Int(try row.integer("version", t))
        let nonce = try row.blob("nonce", t)
        let ciphertext = try row.blob("ciphertext", t)
        let createdAt = try row.timestamp("created_at", t)
        let expiresAt = try row.optionalTimestamp("expires_at", t)
        let retiredAt = try row.optionalTimestamp("retired_at", t)
        let console = try ConsoleLink(row: row)
        self.init(tokenId: tokenId, version: version, nonce: nonce, ciphertext: ciphertext, createdAt: createdAt, expiresAt: expiresAt, retiredAt: retiredAt, console: console)
    }
}

extension ConsoleLink {
    /// The three console columns of a `token_versions` row, with their exact storage classes
    /// and the values the schema allows.
    package init(row: Row) throws {
        let t = "token_versions"
        let id = try row.optionalText("console_id", t)
        let name = try row.optionalText("console_name", t)
        var state: State?
        if let s = try row.optionalText("console_state", t) {
            guard let known = ConsoleLink.State(rawValue: s) else { throw StoredTypeError(table: t, column: "console_state", found: "'\(s)'") }
            state = known
        }
        if let id, !ConsoleLink.isValidID(id) { throw StoredTypeError(table: t, column: "console_id", found: "an invalid id") }
        if let name, !ConsoleLink.isValidName(name) { throw StoredTypeError(table: t, column: "console_name", found: "an invalid name") }
        self.init(id: id, name: name, state: state)
    }
}

extension AuditRecord {
    /// The columns in the order `init(columns:)` reads them: walks over the whole log (audit
    /// verify, the freshness check) select these and decode by position, which measured about
    /// three times faster than GRDB's by-name lookup.
    package static let orderedColumns = "seq, at, action, tokens, outcome, reason, details, os_user, uid, host, pid, mac"

    /// Decodes a row of `orderedColumns` by position, with the same exact storage classes.
    package init(columns row: Row) throws {
        func value(_ i: Int, _ name: String) -> DatabaseValue.Storage {
            (row[i] as DatabaseValue).storage
        }
        func text(_ i: Int, _ name: String) throws -> String {
            guard case .string(let s) = value(i, name) else { throw StoredTypeError(table: "audit_log", column: name, found: value(i, name).kind) }
            return s
        }
        func integer(_ i: Int, _ name: String) throws -> Int64 {
            guard case .int64(let v) = value(i, name) else { throw StoredTypeError(table: "audit_log", column: name, found: value(i, name).kind) }
            return v
        }
        let seq = try integer(0, "seq")
        let at = try text(1, "at"), action = try text(2, "action"), tokens = try text(3, "tokens"), outcome = try text(4, "outcome")
        let reason: String?
        if case .null = value(5, "reason") { reason = nil } else { reason = try text(5, "reason") }
        let details = try text(6, "details"), osUser = try text(7, "os_user"), uid = try integer(8, "uid")
        let host = try text(9, "host"), pid = try integer(10, "pid")
        let mac: Data?
        switch value(11, "mac") {
        case .null: mac = nil
        case .blob(let d): mac = d
        case let other: throw StoredTypeError(table: "audit_log", column: "mac", found: other.kind)
        }
        self.init(seq: seq, at: at, action: action, tokens: tokens, outcome: outcome, reason: reason, details: details, osUser: osUser, uid: uid, host: host, pid: pid, mac: mac)
    }


    package init(row: Row) throws {
        let t = "audit_log"
        let seq = try row.integer("seq", t)
        let at = try row.text("at", t)
        let action = try row.text("action", t)
        let tokens = try row.text("tokens", t)
        let outcome = try row.text("outcome", t)
        let reason = try row.optionalText("reason", t)
        let details = try row.text("details", t)
        let osUser = try row.text("os_user", t)
        let uid = try row.integer("uid", t)
        let host = try row.text("host", t)
        let pid = try row.integer("pid", t)
        let mac = try row.optionalBlob("mac", t)
        self.init(seq: seq, at: at, action: action, tokens: tokens, outcome: outcome, reason: reason, details: details, osUser: osUser, uid: uid, host: host, pid: pid, mac: mac)
    }
}

// MARK: - The lookups every command makes, as plain SQL over the indexes the schema defines
// (statements in loops are cached per connection: `export --all` runs them once per token)

extension VaultHeaderRecord {
    /// Stores a new KDF salt and parameters and the master key wrapped under the KEK they give
    /// (passwd, kdf set, rekey).
    /// Writes the header of a new vault (`init`).
    package func insertRow(_ db: Database) throws {
        try insert(db)
    }

    package static func rewrap(_ db: Database, parameters: KDFParameters, targetMilliseconds: Int64?, salt: [UInt8],
                       nonce: [UInt8], wrapped: [UInt8], now: Int64) throws {
        guard var header = try fetch(db) else { throw VaultError.corruptVault(reason: "vault header is missing") }
        header.kdfOps = Int64(parameters.opsLimit)
        header.kdfMem = Int64(parameters.memLimit)
        header.kdfSalt = Data(salt)
        header.kdfTargetMs = targetMilliseconds
        header.wrapNonce = Data(nonce)
        header.wrappedKey = Data(wrapped)
        header.updatedAt = now
        try header.update(db)
    }

    package static func fetch(_ db: Database) throws -> VaultHeaderRecord? {
        try fetchOne(db, sql: "SELECT * FROM vault_header WHERE id = 1")
    }
}

extension TokenRecord {
    /// The token named `name` (the unique index on `tokens.name`).
    /// The token called `name`, read from the table itself (`NOT INDEXED`): the UNIQUE(name)
    /// index's contents can be rebuilt without a row behind unchanged schema text, which made a
    /// local key invisible to `receive` (red team, schema 7). Two rows of one name are refused.
    package static func named(_ name: String, _ db: Database) throws -> TokenRecord? {
        let rows = try fetchAll(db.cachedStatement(sql: "SELECT * FROM tokens NOT INDEXED WHERE name = ?"), arguments: [name])
        guard rows.count <= 1 else {
            throw VaultError.corruptVault(reason: "\(rows.count) tokens are named \(Sanitize.display(name)): the file was edited outside v1vault")
        }
        return rows.first
    }

    package static func exists(_ name: String, _ db: Database) throws -> Bool {
        try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM tokens NOT INDEXED WHERE name = ?)"), arguments: [name]) ?? false
    }
}

extension TokenVersionRecord {
    /// The current version (the partial unique index `token_versions_one_current`).
    package static func current(tokenID: Int64, _ db: Database) throws -> TokenVersionRecord? {
        try fetchOne(db.cachedStatement(sql: "SELECT * FROM token_versions WHERE token_id = ? AND retired_at IS NULL"), arguments: [tokenID])
    }

    /// Version `version` of the token (the primary key).
    package static func version(_ version: Int, tokenID: Int64, _ db: Database) throws -> TokenVersionRecord? {
        try fetchOne(db.cachedStatement(sql: "SELECT * FROM token_versions WHERE token_id = ? AND version = ?"), arguments: [tokenID, version])
    }
}

extension VersionState {
    /// Every kept version of a token, oldest first (the primary key; no secret is read).
    package static func all(tokenID: Int64, _ db: Database) throws -> [VersionState] {
        try Row.fetchAll(db.cachedStatement(sql: """
            SELECT version, created_at, expires_at, retired_at, nonce, console_id, console_name, console_state
            FROM token_versions WHERE token_id = ? ORDER BY version
            """), arguments: [tokenID]).map { row in
            VersionState(version: Int(try row.integer("version", "token_versions")), createdAt: try row.timestamp("created_at", "token_versions"),
                         expiresAt: try row.optionalTimestamp("expires_at", "token_versions"),
                         retiredAt: try row.optionalTimestamp("retired_at", "token_versions"),
                         nonce: try row.blob("nonce", "token_versions"), console: try ConsoleLink(row: row))
        }
    }
}

extension AuditRecord {
    /// The newest sealed row: the head of the chain.
    package static func lastSealed(_ db: Database) throws -> AuditRecord? {
        try fetchOne(db, sql: "SELECT * FROM audit_log WHERE mac IS NOT NULL ORDER BY seq DESC LIMIT 1")
    }

    /// Unsealed rows after `seq`, oldest first.
    package static func pending(after seq: Int64, _ db: Database) throws -> [AuditRecord] {
        try fetchAll(db, sql: "SELECT * FROM audit_log WHERE mac IS NULL AND seq > ? ORDER BY seq", arguments: [seq])
    }
}

// MARK: - The writes of add, rotate, rollback, import and remove, as plain SQL
// GRDB's persistence methods (insert, update) instantiate their generic machinery on first use
// in each process, about 0.5 ms measured per command; these statements are cached per
// connection, so import reuses them for every token.

extension TokenRecord {
    /// Inserts the row and sets `id`. The MAC comes after, since it covers the id.
    package mutating func insertRow(_ db: Database) throws {
        try db.cachedStatement(sql: """
            INSERT INTO tokens (name, region, base_url, role, description, permissions, created_at, meta_mac, warn_days, manager)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [name, region, baseUrl, role, description, permissions, createdAt, metaMac, warnDays, manager ? 1 : 0])
        id = db.lastInsertedRowID
    }

    package func updateState(_ db: Database) throws {
        try db.cachedStatement(sql: "UPDATE tokens SET state_seq = ?, state_mac = ? WHERE id = ?").execute(arguments: [stateSeq, stateMac, id])
    }

    /// Writes the name and metadata columns (`edit`, `rename`); the MACs are sealed after.
    package func updateMetadata(_ db: Database) throws {
        try db.cachedStatement(sql: """
            UPDATE tokens SET name = ?, region = ?, base_url = ?, role = ?, description = ?, permissions = ?, warn_days = ?, manager = ?
            WHERE id = ?
            """).execute(arguments: [name, region, baseUrl, role, description, permissions, warnDays, manager ? 1 : 0, id])
    }

    package func updateMetaMac(_ db: Database) throws {
        try db.cachedStatement(sql: "UPDATE tokens SET meta_mac = ? WHERE id = ?").execute(arguments: [metaMac, id])
    }

    /// Deletes the token, its versions and its sharing rows (follows, received mark); returns how many versions there were.
    package func deleteWithVersions(_ db: Database) throws -> Int {
        try db.execute(sql: "DELETE FROM token_versions WHERE token_id = ?", arguments: [id])
        let versions = db.changesCount
        try db.execute(sql: "DELETE FROM recipient_follows NOT INDEXED WHERE token_id = ?", arguments: [id])
        try db.execute(sql: "DELETE FROM received_tokens WHERE token_id = ?", arguments: [id])
        try db.execute(sql: "DELETE FROM tokens WHERE id = ?", arguments: [id])
        return versions
    }
}

extension TokenVersionRecord {
    /// Moves one version's expiry (`edit --expires`); the state MAC is sealed after.
    package static func updateExpiry(_ db: Database, tokenID: Int64, version: Int, expiresAt: Int64?) throws {
        try db.cachedStatement(sql: "UPDATE token_versions SET expires_at = ? WHERE token_id = ? AND version = ?")
            .execute(arguments: [expiresAt, tokenID, version])
    }

    package func insertRow(_ db: Database) throws {
        try db.cachedStatement(sql: """
            INSERT INTO token_versions (token_id, version, nonce, ciphertext, created_at, expires_at, retired_at,
                                        console_id, console_name, console_state)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [tokenId, version, nonce, ciphertext, createdAt, expiresAt, retiredAt,
                                      console.id, console.name, console.state?.rawValue])
    }

    /// Writes a version's console columns (renew, sync --apply, edit); the state MAC is sealed after.
    package static func updateConsole(_ db: Database, tokenID: Int64, version: Int, _ link: ConsoleLink) throws {
        try db.cachedStatement(sql: "UPDATE token_versions SET console_id = ?, console_name = ?, console_state = ? WHERE token_id = ? AND version = ?")
            .execute(arguments: [link.id, link.name, link.state?.rawValue, tokenID, version])
    }
}
