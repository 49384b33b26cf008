import Foundation
import VaultFormat
import VaultStorage

// `vault receive`: one age file in, checked in this order (SECURITY.md, "Receiving"):
// size → age decryption with this vault's identity → the document's structure → its signer
// among the recipients → the signature → trust → addressed to this vault → per key, the
// version against what was received before. Any failure: nothing changes, the refusal is
// audited, and the error says which check failed.

extension UnlockedVault {
    /// The largest age file `receive` reads (a document of `TransferDocument.maxBytes` plus
    /// age's overhead of 16 bytes per 64 KiB chunk and a header).
    public static let maxDropBytes = TransferDocument.maxBytes + TransferDocument.maxBytes / 4096 + 64 * 1024

    /// Receives one drop. `label` names it in messages and the audit (its path).
    public func receive(_ file: [UInt8], label: String) throws(VaultError) -> ReceiveResult {
        let digest = Self.sha256Hex(file)
        var details = ["file": label, "sha256": digest]
        do throws(VaultError) {
            try ensureIdentity()
            // Checks that need no write: decrypt, parse, verify, classify.
            let drop = try open(file, label: label)
            let parsed = drop.parsed, sender = drop.sender
            details["sender"] = sender.name
            let plan = try vault.store.read { db in try classify(drop.doc, parsed, sender: sender, label: label, db) }
            if !plan.changes {
                // Every key is held at exactly this version: nothing to write, nothing audited.
                return ReceiveResult(sender: sender.name, keys: plan.keys, digest: digest)
            }
            details["versions"] = parsed.entries.map { "\($0.name):\($0.version)" }.joined(separator: ",")
            return try perform("receive", subjects: parsed.entries.map { AuditSubject(name: $0.name) }, details: details) { w in
                // Again inside the write transaction: another process may have received since, or
                // removed the sender or revoked its trust (red team E): the sender as it is now.
                guard let now = try verifiedSharing(w.db).recipients.first(where: { $0.id == sender.id }) else {
                    throw VaultError.dropUnverified(file: label, reason: "\(sender.name) was removed as a recipient while the drop was being received")
                }
                guard now.trusted else { throw VaultError.dropUntrusted(file: label, sender: sender.name) }
                guard now.signingKey == sender.signingKey, now.ageRecipient == sender.ageRecipient else {
                    throw VaultError.dropUnverified(file: label, reason: "\(sender.name)'s keys changed while the drop was being received")
                }
                let keys = try classify(drop.doc, parsed, sender: sender, label: label, w.db).keys
                var applied: [ReceivedKey] = []
                for (i, key) in keys.enumerated() {
                    applied.append(try apply(key, entry: parsed.entries[i], value: parsed.valueRanges[i], doc: drop.doc, sender: sender, &w))
                }
                w.subjects = applied.map { AuditSubject(name: $0.name, version: $0.localVersion) }
                w.details["outcome"] = applied.map { "\($0.name):\($0.outcome.rawValue)" }.joined(separator: ",")
                return ReceiveResult(sender: sender.name, keys: applied, digest: digest)
            }
        } catch {
            switch error {
            case .dropUnreadable, .dropNotForThisVault, .dropUnverified, .dropUntrusted, .dropReplayed, .dropConflict, .shareTampered:
                // Refusals found before the transaction: audited here (perform records its own).
                if details["versions"] == nil { recordFailure("receive", subjects: [], details: details, error: error) }
            default: break
            }
            throw error
        }
    }

    /// Decrypts, parses and authenticates a drop; returns the document, its parse and its signer.
    private struct OpenedDrop: ~Copyable {
        let doc: SecureBytes
        let parsed: ParsedTransfer
        let sender: RecipientRow
    }

    private func open(_ file: [UInt8], label: String) throws(VaultError) -> OpenedDrop {
        guard file.count <= Self.maxDropBytes else { throw .dropUnreadable(file: label, reason: "larger than \(Self.maxDropBytes) bytes") }
        let (identityRow, recipients) = try vault.store.read { db in (try IdentityRow.fetch(db), try verifiedSharing(db).recipients) }
        guard let identityRow else { throw .invalidInput(reason: "this vault has no sharing identity", hint: nil) }
        let identity = try openIdentity(identityRow)
        let doc: SecureBytes
        do {
            doc = try Age.decrypt(file, identity: identity.ageSecret, maxPlaintext: TransferDocument.maxBytes)
        } catch {
            switch error {
            case .noIdentityMatched: throw .dropNotForThisVault(file: label, reason: "it was encrypted to other recipients")
            case .malformed(let r): throw .dropUnreadable(file: label, reason: "not an age file (\(r))")
            case .headerMACMismatch: throw .dropUnreadable(file: label, reason: "its age header was modified")
            case .payloadDamaged(let r): throw .dropUnreadable(file: label, reason: "its content is damaged (\(r))")
            case .tooLarge: throw .dropUnreadable(file: label, reason: "its content is larger than \(TransferDocument.maxBytes) bytes")
            }
        }
        let parsed: ParsedTransfer
        do { parsed = try TransferDocument.parse(doc) } catch {
            throw .dropUnreadable(file: label, reason: "not a v1vault transfer document (\(error.reason))")
        }
        let signers = recipients.filter { $0.signingKey.map(Array.init) == parsed.signer }
        guard signers.count == 1, let sender = signers.first else {
            throw .dropUnverified(file: label, reason: "signed by an unknown key \(SigningKey.text(parsed.signer))")
        }
        guard TransferDocument.verify(doc, parsed, key: parsed.signer) else {
            throw .dropUnverified(file: label, reason: "the signature does not verify (the document was changed after \(sender.name) signed it)")
        }
        guard sender.trusted else { throw .dropUntrusted(file: label, sender: sender.name) }
        guard parsed.from.text == sender.ageRecipient else {
            throw .dropUnverified(file: label, reason: "signed by \(sender.name)'s key but sent from another age recipient than the one on record")
        }
        guard parsed.to.contains(identity.recipient) else {
            throw .dropNotForThisVault(file: label, reason: "\(sender.name) addressed it to other vaults (it was passed on)")
        }
        return OpenedDrop(doc: doc, parsed: parsed, sender: sender)
    }

    /// What each key of the document would do here, or the refusal; `changes` is false when
    /// every key is held at exactly the document's version (a repeated drop).
    private func classify(_ doc: borrowing SecureBytes, _ parsed: ParsedTransfer, sender: RecipientRow, label: String,
                          _ db: StoreTransaction) throws -> (keys: [ReceivedKey], changes: Bool) {
        var out: [ReceivedKey] = []
        var changes = false
        let rows = try verifiedSharing(db)
        for (i, e) in parsed.entries.enumerated() {
            guard let record = try TokenRecord.named(e.name, db) else {
                out.append(ReceivedKey(name: e.name, version: e.version, localVersion: 1, outcome: .added))
                changes = true
                continue
            }
            guard let mark = rows.mark(tokenID: record.id ?? 0) else {
                throw VaultError.dropConflict(file: label, token: e.name, reason: "a key of that name exists here and was not received from \(sender.name)")
            }
            guard mark.senderKey == Data(parsed.signer) else {
                throw VaultError.dropConflict(file: label, token: e.name, reason: "it was received from another sender, not from \(sender.name)")
            }
            let t = try resolve(db, e.name)
            if e.version < mark.remoteVersion {
                throw VaultError.dropReplayed(file: label, token: e.name,
                                              reason: "version \(e.version) is older than version \(mark.remoteVersion) received before (a replay)")
            }
            let current = try open(t)
            let same = doc.withUnsafeBytes { d in current.withUnsafeBytes { c in
                Sodium.constantTimeEqual(UnsafeRawBufferPointer(rebasing: d[parsed.valueRanges[i]]), c) } }
            if e.version == mark.remoteVersion {
                guard same else {
                    throw VaultError.dropReplayed(file: label, token: e.name,
                                                  reason: "version \(e.version) differs from the version \(e.version) received before")
                }
                out.append(ReceivedKey(name: e.name, version: e.version, localVersion: t.current.version, outcome: .held))
            } else {
                out.append(ReceivedKey(name: e.name, version: e.version, localVersion: t.current.version + (same ? 0 : 1),
                                       outcome: same ? .held : .rotated))
                changes = true
            }
        }
        return (out, changes)
    }

    /// Applies one classified key inside the receive transaction.
    private func apply(_ key: ReceivedKey, entry e: TransferEntry, value: Range<Int>, doc: borrowing SecureBytes, sender: RecipientRow,
                       _ w: inout AuditedWrite) throws -> ReceivedKey {
        var key = key
        let db = w.db
        let secret = doc.withUnsafeBytes { SecureBytes(copying: UnsafeRawBufferPointer(rebasing: $0[value])) }
        let expires = e.expiresAt.map(Timestamp.date)
        let tokenID: Int64
        switch key.outcome {
        case .added:
            let region = e.region.flatMap(Region.init(rawValue:))
            var record = TokenRecord(id: nil, name: e.name, region: region?.rawValue, baseUrl: e.baseURL, role: e.role, description: e.description,
                                     permissions: JSONText.array(e.permissions), createdAt: Timestamp.seconds(now), metaMac: nil)
            try record.insertRow(db)
            try sealMetadata(db, &record)
            _ = try insertVersion(db, tokenID: record.id!, version: 1, secret: secret, expires: expires)
            _ = try sealState(w, &record)
            tokenID = record.id!
            key.localVersion = 1
        case .rotated:
            let t = try resolve(db, e.name)
            let subjects = w.subjects, details = w.details
            let result = try replaceCurrent(&w, t, secret: secret, expires: expires, keep: 10)
            w.subjects = subjects
            w.details = details
            tokenID = t.record.id!
            key.localVersion = result.current.version
        case .held:
            let t = try resolve(db, e.name)
            tokenID = t.record.id!
        }
        var mark = ReceivedRow(tokenID: tokenID, senderKey: Data(sender.signingKey ?? Data()), remoteVersion: Int64(e.version),
                               receivedAt: Timestamp.seconds(now), mac: Data())
        mark.mac = Data(ShareMAC.received(key: metadataKey, vaultID: vaultID, mark))
        try mark.save(db)
        w.sharingChanged = true
        return key
    }
}
