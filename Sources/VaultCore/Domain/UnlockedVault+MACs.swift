import Foundation
import VaultFormat
import VaultStorage

// The metadata and state MACs of a token: sealing them after a change, checking them (and the
// state's freshness against the audit log) before any use (SECURITY.md, "Token metadata MAC",
// "Token state MAC").

extension UnlockedVault {
    /// Computes and stores a token's metadata MAC (after insert, when its id is known).
    func sealMetadata(_ db: StoreTransaction, _ record: inout TokenRecord) throws {
        record.metaMac = Data(MetadataMAC.mac(key: metadataKey, vaultID: vaultID, record))
        try record.updateMetaMac(db)
    }

    /// Throws unless the row's metadata MAC verifies. A row without a MAC (written before
    /// schema 2, or with its MAC deleted) fails closed until the user vouches for it with
    /// `sealLegacyMetadata` — otherwise deleting the MAC would be a way around it.
    func checkMetadata(_ record: TokenRecord) throws(VaultError) {
        guard record.metaMac != nil else { throw .metadataUnsealed(name: record.name) }
        guard MetadataMAC.verify(key: metadataKey, vaultID: vaultID, record) else { throw .metadataTampered(name: record.name) }
    }

    /// Re-reads the token's versions and stores their state MAC, naming this command's audit
    /// row. Returns the current version.
    @discardableResult
    func sealState(_ w: AuditedWrite, _ record: inout TokenRecord) throws -> VersionState {
        let versions = try VersionState.all(tokenID: record.id!, w.db)
        record.stateSeq = w.seq
        record.stateMac = Data(try StateMAC.mac(key: metadataKey, vaultID: vaultID, tokenID: record.id!, stateSeq: w.seq, versions: versions, bound: .init(record)))
        try record.updateState(w.db)
        return try StateMAC.currentVersion(versions, name: record.name)
    }

    /// Throws unless `versions` are well formed and match the token's state MAC. Returns the
    /// current version. Freshness against the audit log is checked separately (`checkFresh`).
    func checkState(_ record: TokenRecord, _ versions: [VersionState]) throws(VaultError) -> VersionState {
        guard let seq = record.stateSeq, let stored = record.stateMac else { throw .stateUnsealed(name: record.name) }
        let current = try StateMAC.currentVersion(versions, name: record.name)
        let expected = try StateMAC.mac(key: metadataKey, vaultID: vaultID, tokenID: record.id!, stateSeq: seq, versions: versions, bound: .init(record))
        guard expected.withUnsafeBytes({ a in stored.withUnsafeBytes { b in Sodium.constantTimeEqual(a, b) } }) else {
            throw .stateTampered(name: record.name, reason: "its current version, an expiry or a kept version was changed outside v1vault")
        }
        return current
    }

    /// One walk over the sealed audit rows after `seq`, verifying their MAC chain from row
    /// `seq` on, and returning the newest successful change row naming each token (name → seq).
    /// The freshness check relies on those rows, so an edited one — say one that no longer names
    /// the token it changed — must not pass for an honest one: the walk throws instead.
    func verifiedChanges(_ db: StoreTransaction, after seq: Int64, name: String) throws -> [String: Int64] {
        let tail = try AuditChain.verify(db, key: auditKey, epochs: try auditEpochs(db), expectHead: nil, from: seq)
        if let problem = tail.problem {
            throw VaultError.stateTampered(name: name, reason: "the audit log after its last change does not verify (\(problem))")
        }
        return tail.changes
    }

    /// Throws if a successful audit row newer than the one the state MAC names changed this
    /// token: its rows were replaced by an older authenticated copy (a partial rollback).
    func checkFresh(_ record: TokenRecord, newestChange: Int64?) throws(VaultError) {
        if let newest = newestChange, newest > record.stateSeq! {
            throw .stateTampered(name: record.name, reason: "audit row \(newest) changed it after the state stored (audit row \(record.stateSeq!)): its rows were rolled back")
        }
    }
}
