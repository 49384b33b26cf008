import Foundation
import VaultFormat
import VaultStorage

// The sharing rows (recipients, follows, received marks) as one authenticated, fresh state
// (SECURITY.md, "Sharing state MAC (schema 7)"). Every use of a sharing row goes through
// `verifiedSharing`: each row's own MAC, the state MAC over all of them, and the audit log
// after the row the state names. Every change is made after it and sealed by `perform`.

enum SharingState {
    /// In the details of every successful audit row whose command changed the sharing rows.
    static let marker = #""sharing":"sealed""#
}

/// The sharing rows as read from the tables themselves, every MAC verified.
struct SharingRows {
    /// By id.
    var recipients: [RecipientRow]
    /// By recipient, then token.
    var follows: [FollowRow]
    /// By token.
    var received: [ReceivedRow]
    /// The audit row the sharing state names; nil when a vault upgraded from schema 6 has not
    /// sealed its sharing state yet (its rows are then as fresh as schema 6 made them).
    var stateSeq: Int64?

    func recipient(named name: String) -> RecipientRow? { recipients.first { $0.name == name } }
    func recipient(withAge text: String) -> RecipientRow? { recipients.first { $0.ageRecipient == text } }
    func recipients(withSigningKey key: [UInt8]) -> [RecipientRow] { recipients.filter { $0.signingKey.map(Array.init) == key } }
    func follows(recipientID: Int64, tokenID: Int64) -> Bool { follows.contains { $0.recipientID == recipientID && $0.tokenID == tokenID } }
    func mark(tokenID: Int64) -> ReceivedRow? { received.first { $0.tokenID == tokenID } }
}

extension UnlockedVault {
    /// Reads and checks every sharing row (`shareTampered`, exit 14, on any failure):
    /// 1. each row's own MAC (schema 6);
    /// 2. the `sharing_state` row: one, with id 1, whose MAC covers exactly these rows;
    /// 3. the audit log from the row it names on: that row exists and is sealed, the chain after
    ///    it verifies, and no later sealed, successful row changed the sharing rows (then these
    ///    are an older copy put back).
    /// With no `sharing_state` row: if any sealed row ever changed the sharing rows under
    /// schema 7 (it carries the marker), the row was deleted (14); otherwise the vault was
    /// upgraded from schema 6 and has not sealed it yet (`ensureSharingSealed` does).
    func verifiedSharing(_ db: StoreTransaction) throws -> SharingRows {
        let recipients = try RecipientRow.all(db)
        for r in recipients where !ShareMAC.equal(ShareMAC.recipient(key: metadataKey, vaultID: vaultID, r), r.mac) {
            throw VaultError.shareTampered(reason: "recipient \(displayName(r.name)) was changed outside v1vault")
        }
        let follows = try FollowRow.all(db)
        for f in follows where !ShareMAC.equal(ShareMAC.follow(key: metadataKey, vaultID: vaultID, f), f.mac) {
            throw VaultError.shareTampered(reason: "a follow mark (recipient \(f.recipientID), token \(f.tokenID)) was changed outside v1vault")
        }
        let received = try ReceivedRow.all(db)
        for m in received where !ShareMAC.equal(ShareMAC.received(key: metadataKey, vaultID: vaultID, m), m.mac) {
            let name = try TokenRecord.idsAndNames(db).first { $0.id == m.tokenID }.map { displayName($0.name) } ?? "token \(m.tokenID)"
            throw VaultError.shareTampered(reason: "the received mark of \(name) was changed outside v1vault")
        }
        // v1vault deletes a token's or a recipient's follows and mark with it: a row naming one
        // that does not exist was put back, and would pass to whatever gets that id next.
        let tokenIDs = Set(try TokenRecord.idsAndNames(db).map(\.id)), recipientIDs = Set(recipients.map(\.id))
        if let orphan = follows.first(where: { !tokenIDs.contains($0.tokenID) || !recipientIDs.contains($0.recipientID) }) {
            throw VaultError.shareTampered(reason: "a follow mark (recipient \(orphan.recipientID), token \(orphan.tokenID)) names a recipient or token the vault does not hold")
        }
        if let orphan = received.first(where: { !tokenIDs.contains($0.tokenID) }) {
            throw VaultError.shareTampered(reason: "the received mark of token \(orphan.tokenID) names a token the vault does not hold")
        }
        let states = try SharingStateRow.all(db)
        guard states.count <= 1 else { throw VaultError.shareTampered(reason: "the file has \(states.count) sharing state rows") }
        guard let first = states.first else {
            if try AuditRecord.sealedRowMentions(SharingState.marker, actions: nil, okOnly: true, db) {
                throw VaultError.shareTampered(reason: "the sharing state was deleted from the file (the audit log shows it was sealed)")
            }
            return SharingRows(recipients: recipients, follows: follows, received: received, stateSeq: nil)
        }
        guard let state = first else { throw VaultError.shareTampered(reason: "a stray sharing state row") }
        let expected = ShareMAC.state(key: metadataKey, vaultID: vaultID, stateSeq: state.stateSeq, recipients: recipients,
                                      follows: follows, received: received)
        guard ShareMAC.equal(expected, state.mac) else {
            throw VaultError.shareTampered(reason: "a recipient, follow or received mark was added, removed or put back outside v1vault (the sharing state does not verify)")
        }
        let tail = try AuditChain.verify(db, key: auditKey, epochs: try auditEpochs(db), expectHead: nil, from: state.stateSeq)
        if let problem = tail.problem {
            throw VaultError.shareTampered(reason: "the audit log after the sharing rows' last change does not verify (\(problem))")
        }
        if let later = tail.sharingChange {
            throw VaultError.shareTampered(reason: "audit row \(later) changed the sharing rows after the state stored (audit row \(state.stateSeq)): they were rolled back")
        }
        return SharingRows(recipients: recipients, follows: follows, received: received, stateSeq: state.stateSeq)
    }

    /// Stores the sharing state MAC over the rows as they are now, naming audit row `seq`
    /// (`perform` calls it when the body set `sharingChanged`, after `verifiedSharing`).
    func sealSharing(_ db: StoreTransaction, seq: Int64) throws {
        // The first seal of a vault upgraded from schema 6 vouches for its rows as they are:
        // only while the whole audit log verifies (verifiedSharing has refused a deleted state).
        if try SharingStateRow.all(db).isEmpty {
            let chain = try AuditChain.verify(db, key: auditKey, epochs: try auditEpochs(db), expectHead: nil)
            if let problem = chain.problem {
                throw VaultError.shareTampered(reason: "the sharing rows are not sealed yet and the audit log does not verify (\(problem)): nothing was sealed")
            }
        }
        let mac = ShareMAC.state(key: metadataKey, vaultID: vaultID, stateSeq: seq, recipients: try RecipientRow.all(db),
                                 follows: try FollowRow.all(db), received: try ReceivedRow.all(db))
        try SharingStateRow(stateSeq: seq, mac: Data(mac)).save(db)
    }

    /// A vault upgraded from schema 6 seals its sharing state at its first sharing command
    /// (audited `seal-sharing`), as its rows are now — but only if the whole audit log
    /// verifies and no row shows the state was ever sealed (`verifiedSharing` refuses that).
    func ensureSharingSealed() throws(VaultError) {
        let sealed = try vault.store.read { db in try verifiedSharing(db).stateSeq != nil }
        if sealed { return }
        try perform("seal-sharing", subjects: []) { w in
            let rows = try verifiedSharing(w.db)
            if rows.stateSeq != nil { return }
            w.details["recipients"] = "\(rows.recipients.count)"
            w.details["follows"] = "\(rows.follows.count)"
            w.details["received"] = "\(rows.received.count)"
            w.sharingChanged = true
        }
    }
}
