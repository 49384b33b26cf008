import Foundation
import GRDB
import VaultFormat

// The statements of sharing (schema 6): the vault's identity, its recipients, which tokens
// each follows, and where received tokens came from. Rows are decoded strictly; their seals
// and MACs are the caller's to check (VaultCore, Domain/Sharing.swift).

extension IdentityRow {
    /// The identity row, or nil when none was generated yet.
    package static func fetch(_ db: Database) throws -> IdentityRow? {
        let t = "vault_identity"
        return try Row.fetchOne(db, sql: "SELECT age_public, signing_public, nonce, sealed, created_at FROM vault_identity WHERE id = 1").map { row in
            IdentityRow(agePublic: try row.blob("age_public", t), signingPublic: try row.blob("signing_public", t),
                        nonce: try row.blob("nonce", t), sealed: try row.blob("sealed", t), createdAt: try row.timestamp("created_at", t))
        }
    }

    /// Whether the file holds any identity row (one with id 1 or not: the caller refuses a stray one).
    package static func count(_ db: Database) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT count(*) FROM vault_identity") ?? 0
    }

    package func insert(_ db: Database) throws {
        try db.execute(sql: "INSERT INTO vault_identity (id, age_public, signing_public, nonce, sealed, created_at) VALUES (1, ?, ?, ?, ?, ?)",
                       arguments: [agePublic, signingPublic, nonce, sealed, createdAt])
    }

    /// Seals the same secrets again (rekey).
    package static func reseal(nonce: [UInt8], sealed: [UInt8], _ db: Database) throws {
        try db.execute(sql: "UPDATE vault_identity SET nonce = ?, sealed = ? WHERE id = 1", arguments: [Data(nonce), Data(sealed)])
    }
}

extension RecipientRow {
    private static let columns = "id, name, age_recipient, signing_key, trusted, created_at, mac"

    private init(row: Row) throws {
        let t = "recipients"
        let trusted = try row.integer("trusted", t)
        guard trusted == 0 || trusted == 1 else { throw StoredTypeError(table: t, column: "trusted", found: "\(trusted)") }
        self.init(id: try row.integer("id", t), name: try row.text("name", t), ageRecipient: try row.text("age_recipient", t),
                  signingKey: try row.optionalBlob("signing_key", t), trusted: trusted == 1,
                  createdAt: try row.timestamp("created_at", t), mac: try row.blob("mac", t))
    }

    /// Every recipient, by id, read from the table itself (`NOT INDEXED`: an index's contents
    /// can be edited behind unchanged schema text, hiding a row from one query and not another).
    /// The sharing state MAC covers exactly these rows; lookups are made in this list.
    package static func all(_ db: Database) throws -> [RecipientRow] {
        try Row.fetchAll(db, sql: "SELECT \(columns) FROM recipients NOT INDEXED").map { try RecipientRow(row: $0) }.sorted { $0.id < $1.id }
    }

    /// Inserts a row with a zero MAC and returns its id (the MAC covers the id: `setMAC` after).
    package static func insert(name: String, ageRecipient: String, signingKey: [UInt8]?, trusted: Bool, createdAt: Int64, _ db: Database) throws -> Int64 {
        try db.execute(sql: "INSERT INTO recipients (name, age_recipient, signing_key, trusted, created_at, mac) VALUES (?, ?, ?, ?, ?, zeroblob(32))",
                       arguments: [name, ageRecipient, signingKey.map { Data($0) }, trusted ? 1 : 0, createdAt])
        return db.lastInsertedRowID
    }

    package static func setMAC(_ mac: [UInt8], id: Int64, _ db: Database) throws {
        try db.execute(sql: "UPDATE recipients SET mac = ? WHERE id = ?", arguments: [Data(mac), id])
    }

    /// Sets the signing key and the trust mark (`recipient trust`); the MAC is set after.
    package static func setTrust(signingKey: [UInt8]?, trusted: Bool, id: Int64, _ db: Database) throws {
        try db.execute(sql: "UPDATE recipients SET signing_key = ?, trusted = ? WHERE id = ?",
                       arguments: [signingKey.map { Data($0) }, trusted ? 1 : 0, id])
    }

    /// Deletes the recipient and what it follows.
    package static func delete(id: Int64, _ db: Database) throws {
        try db.execute(sql: "DELETE FROM recipient_follows NOT INDEXED WHERE recipient_id = ?", arguments: [id])
        try db.execute(sql: "DELETE FROM recipients WHERE id = ?", arguments: [id])
    }
}

extension FollowRow {
    private init(row: Row) throws {
        let t = "recipient_follows"
        self.init(recipientID: try row.integer("recipient_id", t), tokenID: try row.integer("token_id", t), mac: try row.blob("mac", t))
    }

    /// Every follow, by recipient then token, read from the table itself (see `RecipientRow.all`).
    package static func all(_ db: Database) throws -> [FollowRow] {
        try Row.fetchAll(db, sql: "SELECT recipient_id, token_id, mac FROM recipient_follows NOT INDEXED").map { try FollowRow(row: $0) }
            .sorted { ($0.recipientID, $0.tokenID) < ($1.recipientID, $1.tokenID) }
    }

    package func insert(_ db: Database) throws {
        try db.execute(sql: "INSERT INTO recipient_follows (recipient_id, token_id, mac) VALUES (?, ?, ?)", arguments: [recipientID, tokenID, mac])
    }

    package func updateMAC(_ db: Database) throws {
        try db.execute(sql: "UPDATE recipient_follows NOT INDEXED SET mac = ? WHERE recipient_id = ? AND token_id = ?", arguments: [mac, recipientID, tokenID])
        try Self.exactlyOne(db)
    }

    package static func delete(recipientID: Int64, tokenID: Int64, _ db: Database) throws {
        try db.execute(sql: "DELETE FROM recipient_follows NOT INDEXED WHERE recipient_id = ? AND token_id = ?", arguments: [recipientID, tokenID])
        try exactlyOne(db)
    }

    /// The statement just run changed exactly one row (reads and writes both bypass the index,
    /// so anything else means the table holds what the verified read did not see).
    private static func exactlyOne(_ db: Database) throws {
        guard db.changesCount == 1 else {
            throw VaultError.shareTampered(reason: "a follow mark did not change as written (\(db.changesCount) rows): the file was edited outside v1vault")
        }
    }
}

extension ReceivedRow {
    private static let columns = "token_id, sender_key, remote_version, received_at, mac"

    private init(row: Row) throws {
        let t = "received_tokens"
        let version = try row.integer("remote_version", t)
        // The CHECK can be switched off for one statement (PRAGMA ignore_check_constraints): the
        // range is checked here too, before the MAC is (red team, #24).
        guard (1...Int64(UInt32.max)).contains(version) else {
            throw StoredTypeError(table: t, column: "remote_version", found: "the out-of-range version \(version)")
        }
        self.init(tokenID: try row.integer("token_id", t), senderKey: try row.blob("sender_key", t),
                  remoteVersion: version, receivedAt: try row.timestamp("received_at", t), mac: try row.blob("mac", t))
    }

    /// Every received mark, by token, read from the table itself (see `RecipientRow.all`).
    package static func all(_ db: Database) throws -> [ReceivedRow] {
        try Row.fetchAll(db, sql: "SELECT \(columns) FROM received_tokens NOT INDEXED").map { try ReceivedRow(row: $0) }.sorted { $0.tokenID < $1.tokenID }
    }

    /// Inserts or replaces the row of `tokenID`.
    package func save(_ db: Database) throws {
        try db.execute(sql: "INSERT OR REPLACE INTO received_tokens (token_id, sender_key, remote_version, received_at, mac) VALUES (?, ?, ?, ?, ?)",
                       arguments: [tokenID, senderKey, remoteVersion, receivedAt, mac])
    }
}

extension SharingStateRow {
    /// The `sharing_state` rows, from the table itself: none (a vault upgraded from schema 6 that
    /// has not sealed it yet, or one whose row was deleted), or the one with id 1. A row with
    /// another id (the CHECK switched off) is returned as nil in the list: the caller refuses it.
    package static func all(_ db: Database) throws -> [SharingStateRow?] {
        let t = "sharing_state"
        return try Row.fetchAll(db, sql: "SELECT id, state_seq, mac FROM sharing_state NOT INDEXED").map { row in
            guard try row.integer("id", t) == 1 else { return nil }
            let seq = try row.integer("state_seq", t)
            guard seq >= 1 else { throw StoredTypeError(table: t, column: "state_seq", found: "\(seq)") }
            return SharingStateRow(stateSeq: seq, mac: try row.blob("mac", t))
        }
    }

    /// Stores the state (its one row).
    package func save(_ db: Database) throws {
        try db.execute(sql: "INSERT OR REPLACE INTO sharing_state (id, state_seq, mac) VALUES (1, ?, ?)", arguments: [stateSeq, mac])
    }
}

extension TokenRecord {
    /// Every token's id and name (to name what recipients follow).
    package static func idsAndNames(_ db: Database) throws -> [(id: Int64, name: String)] {
        try Row.fetchAll(db, sql: "SELECT id, name FROM tokens NOT INDEXED ORDER BY id").map { row in
            (try row.integer("id", "tokens"), try row.text("name", "tokens"))
        }
    }
}
