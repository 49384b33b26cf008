import Foundation
import GRDB
import VaultFormat

// The tokens' and versions' statements the use cases run (Domain/*.swift), each named for what
// it asks or changes. The lookups every command makes are in Records.swift.

extension TokenRecord {
    /// Every token's name, sorted.
    package static func allNames(_ db: Database) throws -> [String] {
        try String.fetchAll(db, sql: "SELECT name FROM tokens ORDER BY name")
    }

    /// The oldest state seq any token names (1 when there is none): where one walk of the
    /// audit chain serves every token's freshness check.
    package static func oldestStateSeq(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT min(state_seq) FROM tokens") ?? 1
    }

    /// The widest own warning window (0 when none).
    package static func widestWarnDays(_ db: Database) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT max(warn_days) FROM tokens") ?? 0
    }

    /// The rows marked as manager keys, by base URL (their MACs are the caller's to check).
    package static func managers(_ db: Database) throws -> [TokenRecord] {
        try TokenRecord.fetchAll(db, sql: "SELECT * FROM tokens WHERE manager = 1 ORDER BY base_url")
    }

    /// The row marked as `baseURL`'s manager, if any.
    package static func manager(of baseURL: String, _ db: Database) throws -> TokenRecord? {
        try TokenRecord.fetchOne(db, sql: "SELECT * FROM tokens WHERE manager = 1 AND base_url = ?", arguments: [baseURL])
    }

    /// Base URL → name of the rows marked as managers, from the raw columns (enough to refuse:
    /// a forged mark can only make an import fail). A column of another storage class reads as
    /// "" (GRDB's `row[…] as String?` would trap on a BLOB that is not UTF-8).
    package static func managerNamesByBaseURL(_ db: Database) throws -> [String: String] {
        Dictionary(try Row.fetchAll(db, sql: "SELECT base_url, name FROM tokens WHERE manager = 1")
            .map { ((try? $0.text("base_url", "tokens")) ?? "", (try? $0.text("name", "tokens")) ?? "") }, uniquingKeysWith: { a, _ in a })
    }

    /// The name of a token other than `tokenID` one of whose versions links console key `id`.
    package static func otherTokenLinking(consoleID id: String, besides tokenID: Int64, _ db: Database) throws -> String? {
        try String.fetchOne(db, sql: """
            SELECT t.name FROM token_versions v JOIN tokens t ON t.id = v.token_id WHERE v.console_id = ? AND v.token_id != ? LIMIT 1
            """, arguments: [id, tokenID])
    }

    /// Rows without a metadata MAC, by name.
    package static func withoutMetadataMAC(_ db: Database) throws -> [TokenRecord] {
        try TokenRecord.fetchAll(db, sql: "SELECT * FROM tokens WHERE meta_mac IS NULL ORDER BY name")
    }

    /// Rows without a state MAC or state seq, by name.
    package static func withoutState(_ db: Database) throws -> [TokenRecord] {
        try TokenRecord.fetchAll(db, sql: "SELECT * FROM tokens WHERE state_mac IS NULL OR state_seq IS NULL ORDER BY name")
    }

    package static func countWithoutState(_ db: Database) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT count(*) FROM tokens WHERE state_mac IS NULL OR state_seq IS NULL") ?? 0
    }

    /// Names of the tokens missing any MAC, by name.
    package static func namesWithoutMACs(_ db: Database) throws -> [String] {
        try String.fetchAll(db, sql: "SELECT name FROM tokens WHERE meta_mac IS NULL OR state_mac IS NULL OR state_seq IS NULL ORDER BY name")
    }

    /// Names of the tokens that have what no token from before schema 5 can have: the manager
    /// mark, an own warning window, or a console link on any version.
    package static func namesWithSchema5Fields(_ db: Database) throws -> Set<String> {
        Set(try String.fetchAll(db, sql: """
            SELECT t.name FROM tokens t WHERE t.manager != 0 OR t.warn_days IS NOT NULL
               OR EXISTS (SELECT 1 FROM token_versions v WHERE v.token_id = t.id AND (v.console_id IS NOT NULL OR v.console_name IS NOT NULL OR v.console_state IS NOT NULL))
            """))
    }

    /// Tokens without exactly one current version, with how many they have (doctor).
    package static func withoutOneCurrentVersion(_ db: Database) throws -> [(name: String, current: Int)] {
        try Row.fetchAll(db, sql: """
            SELECT t.name, (SELECT count(*) FROM token_versions v WHERE v.token_id = t.id AND v.retired_at IS NULL) AS n
            FROM tokens t WHERE n != 1 ORDER BY t.name
            """).map { (try $0.decode(String.self, forColumn: "name"), try $0.decode(Int.self, forColumn: "n")) }
    }
}

extension TokenVersionRecord {
    /// Every kept version of `tokenID`, newest first.
    package static func all(tokenID: Int64, _ db: Database) throws -> [TokenVersionRecord] {
        try TokenVersionRecord.filter(Columns.tokenId == tokenID).order(Columns.version.desc).fetchAll(db)
    }

    /// How many versions the vault keeps in all.
    package static func countAll(_ db: Database) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT count(*) FROM token_versions") ?? 0
    }

    /// Replaces one version's sealed box (rekey).
    package static func reseal(tokenID: Int64, version: Int, nonce: [UInt8], ciphertext: [UInt8], _ db: Database) throws {
        try db.execute(sql: "UPDATE token_versions SET nonce = ?, ciphertext = ? WHERE token_id = ? AND version = ?",
                       arguments: [Data(nonce), Data(ciphertext), tokenID, version])
    }

    /// Deletes the versions of `tokenID` beyond the newest `keep`; returns their numbers.
    package static func prune(tokenID: Int64, keeping keep: Int, _ db: Database) throws -> [Int] {
        let stale = try Int.fetchAll(db, sql: """
            SELECT version FROM token_versions WHERE token_id = ? ORDER BY version DESC LIMIT -1 OFFSET ?
            """, arguments: [tokenID, keep])
        if !stale.isEmpty {
            try db.execute(sql: "DELETE FROM token_versions WHERE token_id = ? AND version IN (\(stale.map(String.init).joined(separator: ",")))",
                           arguments: [tokenID])
        }
        return stale
    }
}

extension VaultHeaderRecord {
    /// The header's wrapped master key as stored now (nil parts when missing).
    package static func wrappedKey(_ db: Database) throws -> (nonce: Data?, key: Data?) {
        let row = try Row.fetchOne(db, sql: "SELECT wrap_nonce, wrapped_key FROM vault_header WHERE id = 1")
        return (try row?.blob("wrap_nonce", "vault_header"), try row?.blob("wrapped_key", "vault_header"))
    }
}

/// A token row joined with its current version: what `list`, `show` and `expiring` print.
package struct TokenSummaryRow {
    package var token: TokenRecord
    package var version: Int
    package var created: Int64
    package var expires: Int64?
    package var console: ConsoleLink
    package var versionCount: Int

    /// The statement behind `expiring`: current versions expiring at or before `?`, soonest
    /// first, with their tokens. Shaped so SQLite answers it from `token_versions_current_expiry`
    /// (a test checks the query plan): one indexed pass, however many are due.
    package static let expiringSQL = """
        SELECT t.*, v.version AS cur_version, v.created_at AS cur_created, v.expires_at AS cur_expires,
               v.console_id, v.console_name, v.console_state,
               (SELECT count(*) FROM token_versions x WHERE x.token_id = t.id) AS version_count
        FROM token_versions v JOIN tokens t ON t.id = v.token_id
        WHERE v.retired_at IS NULL AND v.expires_at IS NOT NULL AND v.expires_at <= ?
        ORDER BY v.expires_at
        """

    /// Current versions expiring at or before `horizon` (seconds), soonest first.
    package static func expiring(by horizon: Int64, _ db: Database) throws -> [TokenSummaryRow] {
        try Row.fetchAll(db, sql: expiringSQL, arguments: [horizon]).map(TokenSummaryRow.init(row:))
    }

    /// Every token (or the one named `name`) with its current version, by name.
    package static func all(named name: String?, _ db: Database) throws -> [TokenSummaryRow] {
        var sql = """
            SELECT t.*, v.version AS cur_version, v.created_at AS cur_created, v.expires_at AS cur_expires,
                   v.console_id, v.console_name, v.console_state,
                   (SELECT count(*) FROM token_versions x WHERE x.token_id = t.id) AS version_count
            FROM tokens t JOIN token_versions v ON v.token_id = t.id AND v.retired_at IS NULL
            """
        var args: StatementArguments = []
        if let name { sql += " WHERE t.name = ?"; args = [name] }
        sql += " ORDER BY t.name"
        return try Row.fetchAll(db, sql: sql, arguments: args).map(TokenSummaryRow.init(row:))
    }

    /// Throwing decodes: a tampered column type is a clean error, never a trap.
    package init(row: Row) throws {
        let v = "token_versions"
        token = try TokenRecord(row: row)
        version = Int(try row.integer("cur_version", v))
        created = try row.timestamp("cur_created", v)
        expires = try row.optionalTimestamp("cur_expires", v)
        console = try ConsoleLink(row: row)
        versionCount = Int(try row.integer("version_count", v))
    }
}
