import Foundation
import GRDB
import VaultFormat

// The audit log's statements (Domain/Audit.swift, Vault.swift, UnlockedVault.swift), each
// named for what it asks or changes. Walks over the whole log read the columns by position
// (`AuditRecord.orderedColumns`), with the exact storage classes.

extension AuditRecord {
    /// Appends one unsealed row and returns its seq.
    package static func append(at: String, action: String, tokens: String, outcome: String, reason: String?, details: String,
                       user: String, uid: Int64, host: String, pid: Int64, _ db: Database) throws -> Int64 {
        try db.execute(sql: """
            INSERT INTO audit_log (at, action, tokens, outcome, reason, details, os_user, uid, host, pid)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [at, action, tokens, outcome, reason, details, user, uid, host, pid])
        return db.lastInsertedRowID
    }

    /// Rewrites a pending row's token list and details (what the command found) before it is sealed.
    package static func updateSubjects(seq: Int64, tokens: String, details: String, _ db: Database) throws {
        try db.execute(sql: "UPDATE audit_log SET tokens = ?, details = ? WHERE seq = ?", arguments: [tokens, details, seq])
    }

    /// Stores a row's MAC (sealing it).
    package static func setMAC(_ mac: [UInt8], seq: Int64, _ db: Database) throws {
        try db.execute(sql: "UPDATE audit_log SET mac = ? WHERE seq = ?", arguments: [Data(mac), seq])
    }

    /// Row `seq`, decoded strictly; nil when there is none.
    package static func byColumns(seq: Int64, _ db: Database) throws -> AuditRecord? {
        try Row.fetchOne(db, sql: "SELECT \(orderedColumns) FROM audit_log NOT INDEXED WHERE seq = ?", arguments: [seq]).map(AuditRecord.init(columns:))
    }

    /// One row of a walk: decoded, or the column that has the wrong storage class.
    package enum Walked {
        case row(AuditRecord)
        case wrongType(seq: Int64?, detail: String)
    }

    /// The rows after `seq` in sequence order, read one at a time (the table is never indexed
    /// for this: index contents can be altered behind unchanged schema text).
    package struct Walk {
        fileprivate let cursor: RowCursor

        package mutating func next() throws -> Walked? {
            guard let raw = try cursor.next() else { return nil }
            do {
                return .row(try AuditRecord(columns: raw))
            } catch let e as StoredTypeError {
                return .wrongType(seq: raw[0] as Int64?, detail: e.description)
            }
        }
    }

    package static func walk(after seq: Int64, _ db: Database) throws -> Walk {
        Walk(cursor: try Row.fetchCursor(db, sql: "SELECT \(orderedColumns) FROM audit_log NOT INDEXED WHERE seq > ? ORDER BY seq", arguments: [seq]))
    }

    /// `vault audit`'s filters: rows naming `token`, of `action`, at or after `since`, before
    /// `until` (timestamps as stored), the newest `limit`; oldest first.
    package static func matching(token: String?, action: String?, since: String?, until: String?, limit: Int?, _ db: Database) throws -> [AuditRecord] {
        var sql = "SELECT * FROM audit_log WHERE 1"
        var args: [any DatabaseValueConvertible] = []
        if let token {
            sql += " AND EXISTS (SELECT 1 FROM json_each(audit_log.tokens) WHERE json_extract(value, '$.name') = ?)"
            args.append(token)
        }
        if let action { sql += " AND action = ?"; args.append(action) }
        if let since { sql += " AND at >= ?"; args.append(since) }
        if let until { sql += " AND at < ?"; args.append(until) }
        sql += " ORDER BY seq DESC"
        if let limit { sql += " LIMIT ?"; args.append(limit) }
        return try AuditRecord.fetchAll(db, sql: sql, arguments: StatementArguments(args)).reversed()
    }

    /// One sealed row as the readers of facts see it (renewal, sync, intents, vouching); a
    /// column of the wrong storage class is nil.
    package struct FactRow {
        package var seq: Int64?
        package var at: String?
        package var action: String?
        package var tokens: String?
        package var details: String?
    }

    /// The sealed rows of `actions` (every action when nil), only successful ones with
    /// `okOnly`, only those whose details contain `containing`; in order.
    package static func sealedRows(actions: [String]?, okOnly: Bool, containing: String? = nil, _ db: Database) throws -> [FactRow] {
        var (sql, args) = sealedFilter(actions: actions, okOnly: okOnly)
        sql = "SELECT seq, at, action, tokens, details FROM audit_log NOT INDEXED WHERE " + sql
        if let containing { sql += " AND instr(details, ?) > 0"; args.append(containing) }
        sql += " ORDER BY seq"
        let t = "audit_log"
        return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args)).map { row in
            FactRow(seq: try? row.integer("seq", t), at: try? row.text("at", t), action: try? row.text("action", t),
                    tokens: try? row.text("tokens", t), details: try? row.text("details", t))
        }
    }

    /// The condition "sealed, of `actions` (any when nil), successful with `okOnly`", bound.
    private static func sealedFilter(actions: [String]?, okOnly: Bool) -> (String, [any DatabaseValueConvertible]) {
        var sql = "mac IS NOT NULL"
        var args: [any DatabaseValueConvertible] = []
        if okOnly { sql += " AND outcome = 'ok'" }
        if let actions {
            sql += " AND action IN (\(Array(repeating: "?", count: actions.count).joined(separator: ", ")))"
            args += actions as [any DatabaseValueConvertible]
        }
        return (sql, args)
    }

    /// Whether a sealed row of `actions` (every action when nil) has `marker` in its details
    /// (an intent's id used or resolved before; the state marker). A failed read says yes.
    package static func sealedRowMentions(_ marker: String, actions: [String]?, okOnly: Bool, _ db: Database) throws -> Bool {
        var (sql, args) = sealedFilter(actions: actions, okOnly: okOnly)
        sql = "SELECT EXISTS (SELECT 1 FROM audit_log NOT INDEXED WHERE " + sql + " AND instr(details, ?) > 0)"
        args.append(marker)
        return try Bool.fetchOne(db, sql: sql, arguments: StatementArguments(args)) ?? true
    }
}

/// One `audit_key_epochs` row: an earlier master key's audit key, sealed under the archive key.
package struct AuditKeyEpochRow {
    package var firstSeq: Int64
    package var lastSeq: Int64
    package var nonce: Data
    package var sealedKey: Data

    package init(firstSeq: Int64, lastSeq: Int64, nonce: Data, sealedKey: Data) {
        self.firstSeq = firstSeq; self.lastSeq = lastSeq; self.nonce = nonce; self.sealedKey = sealedKey
    }

    /// Every row, by first seq, decoded strictly.
    package static func all(_ db: Database) throws -> [AuditKeyEpochRow] {
        let t = "audit_key_epochs"
        return try Row.fetchAll(db, sql: "SELECT * FROM audit_key_epochs NOT INDEXED ORDER BY first_seq").map { row in
            AuditKeyEpochRow(firstSeq: try row.integer("first_seq", t), lastSeq: try row.integer("last_seq", t),
                             nonce: try row.blob("nonce", t), sealedKey: try row.blob("sealed_key", t))
        }
    }

    /// Replaces every row (rekey).
    package static func replaceAll(with rows: [AuditKeyEpochRow], _ db: Database) throws {
        try db.execute(sql: "DELETE FROM audit_key_epochs")
        for r in rows {
            try db.execute(sql: "INSERT INTO audit_key_epochs (first_seq, last_seq, nonce, sealed_key) VALUES (?, ?, ?, ?)",
                           arguments: [r.firstSeq, r.lastSeq, r.nonce, r.sealedKey])
        }
    }
}
