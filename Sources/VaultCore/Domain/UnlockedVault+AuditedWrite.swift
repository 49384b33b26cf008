import Foundation
import VaultFormat
import VaultStorage

// The one audit path: every change runs in `perform`, one IMMEDIATE transaction together with
// its audit row, sealed before the commit (SECURITY.md, "The audit log").

extension UnlockedVault {
    /// A write transaction that already holds its command's audit row.
    struct AuditedWrite {
        let db: StoreTransaction
        /// The seq of this command's audit row (state MACs name it).
        let seq: Int64
        /// What the row will record; the body may refine both before it is sealed.
        var subjects: [AuditSubject]
        var details: [String: String]
        /// The body changed a recipients, recipient_follows or received_tokens row (after
        /// `verifiedSharing`): the sharing state is sealed again under this row.
        var sharingChanged = false
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
                // Likewise for the sharing rows (schema 7): a later row with this marker makes an
                // older sharing state stale (see `verifiedSharing`).
                if w.sharingChanged {
                    try sealSharing(db, seq: seq)
                    w.details["sharing"] = "sealed"
                }
                try AuditRecord.updateSubjects(seq: seq, tokens: AuditChain.json(w.subjects), details: JSONText.object(w.details), db)
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

    func appendSealed(_ db: StoreTransaction, action: String, subjects: [AuditSubject] = [], details: [String: String] = [:],
                      outcome: String = "ok", reason: String? = nil) throws {
        let seq = try vault.appendAudit(db, action: action, subjects: subjects, details: annotated(details), outcome: outcome, reason: reason)
        try seal(db, own: seq)
    }

    /// Seals the pending rows (this command's `own` among them) under this vault's audit key —
    /// after checking, inside the same write transaction, that the header still holds the
    /// wrapped key this vault was opened from. A `rekey`, `passwd` or `kdf set` that committed
    /// since (in another process, or while this one waited for input) would otherwise get rows
    /// sealed under a retired audit key and tokens sealed under a retired master key.
    func seal(_ db: StoreTransaction, own: Int64?) throws {
        try checkKeysUnchanged(db)
        try AuditChain.sealPending(db, key: auditKey, own: own)
    }

    /// Throws `keysChanged` unless the header still holds the wrapped key this vault was
    /// opened from. Called first in every write transaction (which is IMMEDIATE, so nothing
    /// can change the header until it ends).
    func checkKeysUnchanged(_ db: StoreTransaction) throws {
        let (nonce, key) = try VaultHeaderRecord.wrappedKey(db)
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
}
