import Foundation
import GRDB
import VaultFormat

// The statements renewal runs (Renewal/UnlockedVault+Renewal.swift), each named for what it
// asks or changes. Reads that decide whether something is safe answer `true` ("in use", "seen
// before") when the row is missing, as the callers fail safe.

extension TokenVersionRecord {
    /// The highest version number `tokenID` has (0: none).
    package static func maxVersion(tokenID: Int64, _ db: Database) throws -> Int {
        try Int.fetchOne(db.cachedStatement(sql: "SELECT max(version) FROM token_versions WHERE token_id = ?"), arguments: [tokenID]) ?? 0
    }

    /// Sets or clears one version's `retired_at` (rotate, renew's promote); the state MAC is sealed after.
    package static func setRetiredAt(_ retiredAt: Int64?, tokenID: Int64, version: Int, _ db: Database) throws {
        try db.cachedStatement(sql: "UPDATE token_versions SET retired_at = ? WHERE token_id = ? AND version = ?")
            .execute(arguments: [retiredAt, tokenID, version])
    }

    /// Whether any kept version links console key `id`.
    package static func linksConsoleKey(_ id: String, _ db: Database) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM token_versions WHERE console_id = ?)", arguments: [id]) ?? true
    }

    /// Whether a current or enabled version other than `name`'s `version` links console key `id`.
    package static func consoleKeyInUse(_ id: String, besides name: String, version: Int, _ db: Database) throws -> Bool {
        try Bool.fetchOne(db, sql: """
            SELECT EXISTS (SELECT 1 FROM token_versions WHERE console_id = ? AND (retired_at IS NULL OR console_state = 'enabled')
                           AND NOT (token_id = (SELECT id FROM tokens WHERE name = ?) AND version = ?))
            """, arguments: [id, name, version]) ?? true
    }
}

/// One `renewal_intents` row as stored (its MAC is the caller's to check).
package struct IntentRow {
    package var id: Int64
    package var tokenID: Int64
    package var plannedName: String
    package var baseURL: String
    package var createdAt: Int64
    package var mac: Data

    /// Every row, by id, decoded strictly.
    package static func all(_ db: Database) throws -> [IntentRow] {
        let t = "renewal_intents"
        return try Row.fetchAll(db, sql: "SELECT id, token_id, planned_name, base_url, created_at, mac FROM renewal_intents ORDER BY id").map { row in
            IntentRow(id: try row.integer("id", t), tokenID: try row.integer("token_id", t), plannedName: try row.text("planned_name", t),
                      baseURL: try row.text("base_url", t), createdAt: try row.timestamp("created_at", t), mac: try row.blob("mac", t))
        }
    }

    /// Inserts a row with a zero MAC and returns its id (the MAC covers the id: `setMAC` after).
    package static func insert(tokenID: Int64, plannedName: String, baseURL: String, createdAt: Int64, _ db: Database) throws -> Int64 {
        try db.execute(sql: "INSERT INTO renewal_intents (token_id, planned_name, base_url, created_at, mac) VALUES (?, ?, ?, ?, zeroblob(32))",
                       arguments: [tokenID, plannedName, baseURL, createdAt])
        return db.lastInsertedRowID
    }

    package static func setMAC(_ mac: [UInt8], id: Int64, _ db: Database) throws {
        try db.execute(sql: "UPDATE renewal_intents SET mac = ? WHERE id = ?", arguments: [Data(mac), id])
    }

    package static func delete(id: Int64, _ db: Database) throws {
        try db.execute(sql: "DELETE FROM renewal_intents WHERE id = ?", arguments: [id])
    }

    package static func deleteAll(_ db: Database) throws {
        try db.execute(sql: "DELETE FROM renewal_intents")
    }
}
