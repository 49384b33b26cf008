import Foundation
import VaultFormat
import VaultStorage

/// What `rekey` did.
public struct RekeyResult: Sendable, Equatable {
    public var tokens: Int
    public var versions: Int
    /// Audit rows sealed under earlier master keys, now verified through `audit_key_epochs`.
    public var archivedAuditRows: Int64
}

extension UnlockedVault {
    /// The audit keys of earlier master keys, opened and checked: each box holds
    /// `u64be(first_seq) || u64be(last_seq) || audit key` under the archive key, its range must
    /// equal its row's, and the ranges must run from 1 without gap or overlap.
    func auditEpochs(_ db: StoreTransaction) throws -> [AuditKeyEpoch] {
        let rows = try AuditKeyEpochRow.all(db)
        guard !rows.isEmpty else { return [] }
        let archive = master.subkey(context: MasterKey.archiveContext)
        var out: [AuditKeyEpoch] = []
        var next: Int64 = 1
        for row in rows {
            let first = row.firstSeq, last = row.lastSeq
            guard first == next, last >= first,
                  let plain = SecretBox.open(ciphertext: Array(row.sealedKey), nonce: Array(row.nonce), key: archive),
                  plain.count == 48,
                  plain.withUnsafeBytes({ Array($0[0..<16]) }) == Self.epochPrefix(first: first, last: last) else {
                throw VaultError.corruptVault(reason: "the audit key for rows \(first)...\(last) failed authentication (audit_key_epochs was edited)")
            }
            out.append(AuditKeyEpoch(first: first, last: last, key: plain.withUnsafeBytes { SecureBytes(copying: UnsafeRawBufferPointer(rebasing: $0[16..<48])) }))
            next = last + 1
        }
        return out
    }

    static func epochPrefix(first: Int64, last: Int64) -> [UInt8] {
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt64(first).bigEndian) { out += $0 }
        withUnsafeBytes(of: UInt64(last).bigEndian) { out += $0 }
        return out
    }

    /// Replaces the master key: a new random master key wrapped under `passphrase` (new salt),
    /// every kept version opened and sealed again under the new token key (fresh nonces, same
    /// binding), every metadata and state MAC recomputed, the earlier audit keys kept sealed under
    /// the new master so `audit verify` still checks the whole history, all in one transaction.
    /// Unlike `rewrap` (passwd, kdf set), a copy of the old header plus the old passphrase then
    /// opens nothing written after the rekey. O(versions); `progress(done, total)` per version.
    /// Refuses (changing nothing) when any token fails its checks: run `vault doctor` first.
    public func rekey(passphrase: borrowing SecureBytes, parameters: KDFParameters, targetMilliseconds: Int64? = nil,
                      progress: ((Int, Int) -> Void)? = nil) throws(VaultError) -> RekeyResult {
        try parameters.validate()
        try Passphrase.validate(passphrase)
        let salt = Sodium.randomBytes(KDF.saltBytes)
        let kek = try KDF.deriveKEK(passphrase: passphrase, salt: salt, parameters: parameters)
        let newMaster = MasterKey.generate()
        let (wrapNonce, wrapped) = newMaster.wrap(vaultID: vaultID, kek: kek)
        let newTokenKey = newMaster.subkey(context: MasterKey.tokenContext)
        let newMetaKey = newMaster.subkey(context: MasterKey.metadataContext)
        let newAuditKey = newMaster.subkey(context: MasterKey.auditContext)
        let newArchive = newMaster.subkey(context: MasterKey.archiveContext)
        let details = ["ops": "\(parameters.opsLimit)", "memory": ByteSize.format(parameters.memLimit)]
        do throws(VaultError) {
            // Written by hand rather than through `perform`: its audit row must be sealed under
            // the *new* audit key, as the first row of the new epoch.
            let result = try vault.store.write { db in
                // 1. Everything pending is sealed under the old key: the old epoch ends here.
                try seal(db, own: nil)
                let lastOld = try AuditRecord.lastSealed(db)?.seq ?? 0
                let oldEpochs = try auditEpochs(db)
                // Never carry a history that does not verify into the new key.
                let chain = try AuditChain.verify(db, key: auditKey, epochs: oldEpochs, expectHead: nil)
                if let problem = chain.problem {
                    throw VaultError.corruptVault(reason: "the audit chain does not verify (\(problem)); rekey changes nothing until it does")
                }
                // 2. Every token, checked as any use would, then re-sealed.
                let names = try TokenRecord.allNames(db)
                let total = try TokenVersionRecord.countAll(db)
                var done = 0
                var scratch = SecureBytes(capacity: 4096, empty: true)
                var sealScratch = SecureBytes(capacity: 4096, empty: true)
                for name in names {
                    let t = try resolve(db, name, changes: chain.changes)  // the chain walked above, from row 1
                    let id = t.record.id!
                    for v in try VersionState.all(tokenID: id, db) {
                        guard let row = try TokenVersionRecord.version(v.version, tokenID: id, db) else { continue }
                        let range = try open(row, tokenID: id, version: v.version, name: name, into: &scratch)
                        let binding = try SealedEntry.binding(vaultID: vaultID, tokenID: id, version: v.version)
                        let (nonce, ciphertext) = scratch.withUnsafeBytes { raw in
                            SealedEntry.seal(UnsafeRawBufferPointer(rebasing: raw[range]), binding: binding, key: newTokenKey, scratch: &sealScratch)
                        }
                        scratch.reset()
                        try TokenVersionRecord.reseal(tokenID: id, version: v.version, nonce: nonce, ciphertext: ciphertext, db)
                        done += 1
                        if let progress, done % 200 == 0 || done == total { progress(done, total) }
                    }
                    var record = t.record
                    record.metaMac = Data(MetadataMAC.mac(key: newMetaKey, vaultID: vaultID, record))
                    try record.updateMetaMac(db)
                    let versions = try VersionState.all(tokenID: id, db)
                    record.stateMac = Data(try StateMAC.mac(key: newMetaKey, vaultID: vaultID, tokenID: id, stateSeq: record.stateSeq!, versions: versions, bound: .init(record)))
                    try record.updateState(db)
                }
                // Renewal intents: their MACs under the new metadata key (or an interrupted
                // renewal's orphan could never be removed). One that fails now stays failing.
                for i in try loadIntents(db) where i.authentic {
                    let new = IntentMAC.mac(key: newMetaKey, vaultID: vaultID, id: i.id, tokenID: i.tokenID, plannedName: i.plannedName,
                                            baseURL: i.baseURL, createdAt: Timestamp.seconds(i.created))
                    try IntentRow.setMAC(new, id: i.id, db)
                }
                // Sharing (schema 6): the identity sealed under the new share key, and every
                // recipient, follow and received mark under the new metadata key — each checked
                // under the old keys first (a failing one refuses the rekey: run doctor).
                try resealSharing(db, newMaster: newMaster, newMetaKey: newMetaKey)
                // 3. Earlier audit keys, and now the old one, sealed under the new master.
                var archive: [(Int64, Int64, [UInt8], [UInt8])] = []
                for e in oldEpochs {
                    let sealed = Self.sealEpoch(first: e.first, last: e.last, key: e.key, under: newArchive)
                    archive.append((e.first, e.last, sealed.nonce, sealed.ciphertext))
                }
                let firstOld = (oldEpochs.last?.last ?? 0) + 1
                if lastOld >= firstOld {
                    let sealed = Self.sealEpoch(first: firstOld, last: lastOld, key: auditKey, under: newArchive)
                    archive.append((firstOld, lastOld, sealed.nonce, sealed.ciphertext))
                }
                try AuditKeyEpochRow.replaceAll(with: archive.map { AuditKeyEpochRow(firstSeq: $0.0, lastSeq: $0.1, nonce: Data($0.2), sealedKey: Data($0.3)) }, db)
                // 4. The header: the new master under the new KEK.
                try VaultHeaderRecord.rewrap(db, parameters: parameters, targetMilliseconds: targetMilliseconds, salt: salt,
                                             nonce: wrapNonce, wrapped: wrapped, now: Timestamp.seconds(now))
                try faultInjection?("rekey.beforeCommit")
                // 5. This command's row, the first of the new epoch.
                var d = details
                d["tokens"] = "\(names.count)"; d["versions"] = "\(done)"; d["archived_rows"] = "\(lastOld)"
                let own = try vault.appendAudit(db, action: "rekey", details: d)
                try AuditChain.sealPending(db, key: newAuditKey, own: own)
                return RekeyResult(tokens: names.count, versions: done, archivedAuditRows: lastOld)
            }
            _ = try? vault.lock()  // the new salt already ends every session; drop ours too
            return result
        } catch {
            recordFailure("rekey", subjects: [], details: details, error: error)
            throw error
        }
    }

    static func sealEpoch(first: Int64, last: Int64, key: borrowing SecureBytes, under archive: borrowing SecureBytes) -> (nonce: [UInt8], ciphertext: [UInt8]) {
        var plain = SecureBytes(capacity: 48, empty: true)
        epochPrefix(first: first, last: last).withUnsafeBytes { plain.append($0) }
        plain.append(key)
        return SecretBox.seal(plain, key: archive)
    }
}
