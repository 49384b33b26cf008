import CSodium
import Foundation
import VaultFormat
import VaultStorage

/// This vault's sharing identity, in the forms people copy.
public struct IdentityInfo: Sendable, Equatable, Encodable {
    /// The age recipient (`age1…`) other vaults encrypt to.
    public var recipient: String
    /// The Ed25519 signing key (`v1vsig1…`) receivers trust.
    public var signingKey: String
    public var created: Date
    /// True when this command generated it (a vault from before schema 6).
    public var generatedNow: Bool

    enum CodingKeys: String, CodingKey { case recipient, signingKey = "signing_key", created }
}

/// A recipient as listed, its MAC verified.
public struct RecipientInfo: Sendable, Equatable {
    public var name: String
    public var recipient: String
    public var signingKey: String?
    public var trusted: Bool
    public var created: Date
    /// The tokens it follows (renew --publish, share --followers), by name.
    public var follows: [String]
}

/// Who gets which token in one `share`.
public enum ShareTarget: Sendable, Equatable {
    /// These recipients get every token, in one file.
    case recipients([String])
    /// Each of these recipients gets each token in a file of its own (an outbox).
    case each([String])
    /// Each token goes to the recipients that follow it, one file per recipient and token.
    case followers
}

/// One age file `share` produced: ciphertext only.
public struct Drop: Sendable, Equatable {
    public var recipients: [String]
    public var tokens: [(name: String, version: Int)]
    public var bytes: [UInt8]

    public static func == (a: Drop, b: Drop) -> Bool {
        a.recipients == b.recipients && a.bytes == b.bytes && a.tokens.elementsEqual(b.tokens) { $0 == $1 }
    }
}

/// What `receive` did with one key of a drop.
public struct ReceivedKey: Sendable, Equatable, Codable {
    public enum Outcome: String, Sendable, Codable { case added, rotated, held = "already held" }
    public var name: String
    /// The sender's version number.
    public var version: Int
    /// This vault's current version of it afterwards.
    public var localVersion: Int
    public var outcome: Outcome

    enum CodingKeys: String, CodingKey { case name, version, localVersion = "local_version", outcome }
}

/// What `receive` did with one file.
public struct ReceiveResult: Sendable, Equatable {
    public var sender: String
    public var keys: [ReceivedKey]
    /// SHA-256 of the file, hex.
    public var digest: String
}

extension UnlockedVault {
    var shareKey: SecureBytes { master.subkey(context: MasterKey.shareContext) }

    // MARK: - Identity

    /// The identity, generated (audited, `identity-create`) if this vault has none yet; like
    /// every sharing command, seals the sharing state of a vault from schema 6.
    public func identity() throws(VaultError) -> IdentityInfo {
        let info = try identityMadeIfMissing()
        try ensureSharingSealed()
        return info
    }

    private func identityMadeIfMissing() throws(VaultError) -> IdentityInfo {
        if let row = try vault.store.read({ db in try IdentityRow.fetch(db) }) {
            return try info(row, generated: false)
        }
        return try perform("identity-create", subjects: []) { w in
            if let row = try IdentityRow.fetch(w.db) { return try info(row, generated: false) }
            guard try IdentityRow.count(w.db) == 0 else { throw VaultError.shareTampered(reason: "a stray vault_identity row") }
            // One made before (at init, or here) and gone now was deleted from the file: a new
            // one would silently cut this vault off from every sender (red team, #24).
            if try AuditRecord.sealedRowMentions(#""identity":"created""#, actions: ["init", "identity-create"], okOnly: true, w.db) {
                throw VaultError.shareTampered(reason: "the vault's sharing identity was deleted from the file (the audit log shows it was made)")
            }
            let identity = ShareIdentity.generate()
            let (nonce, sealed) = identity.seal(vaultID: vaultID, key: shareKey)
            let row = IdentityRow(agePublic: Data(identity.agePublic), signingPublic: Data(identity.signingPublic),
                                  nonce: Data(nonce), sealed: Data(sealed), createdAt: Timestamp.seconds(now))
            try row.insert(w.db)
            w.details["recipient"] = identity.recipient.text
            w.details["identity"] = "created"
            return try info(row, generated: true)
        }
    }

    /// Generates the identity when this vault has none yet (a vault from before schema 6);
    /// otherwise only looks: the caller opens it once, inside its own transaction.
    /// Also seals the sharing state of a vault upgraded from schema 6 (`ensureSharingSealed`).
    func ensureIdentity() throws(VaultError) {
        if try vault.store.read({ db in try IdentityRow.count(db) }) == 0 { _ = try identityMadeIfMissing() }
        try ensureSharingSealed()
    }

    private func info(_ row: IdentityRow, generated: Bool) throws(VaultError) -> IdentityInfo {
        let identity = try openIdentity(row)
        return IdentityInfo(recipient: identity.recipient.text, signingKey: SigningKey.text(identity.signingPublic),
                            created: Timestamp.date(row.createdAt), generatedNow: generated)
    }

    func openIdentity(_ row: IdentityRow) throws(VaultError) -> ShareIdentity {
        guard let identity = ShareIdentity.open(row, vaultID: vaultID, key: shareKey) else {
            throw .shareTampered(reason: "the vault's sharing identity does not open (its keys were changed outside v1vault)")
        }
        return identity
    }

    /// The identity inside a transaction; generated by `identity()` first when missing.
    func loadIdentity(_ db: StoreTransaction) throws -> ShareIdentity {
        guard let row = try IdentityRow.fetch(db) else {
            throw VaultError.invalidInput(reason: "this vault has no sharing identity yet", hint: nil)
        }
        return try openIdentity(row)
    }

    /// Rekey's part: opens the identity and checks every schema-6 MAC under the current keys,
    /// then seals them all under `newMaster`'s keys.
    func resealSharing(_ db: StoreTransaction, newMaster: borrowing MasterKey, newMetaKey: borrowing SecureBytes) throws {
        if let row = try IdentityRow.fetch(db) {
            let identity = try openIdentity(row)
            let (nonce, sealed) = identity.seal(vaultID: vaultID, key: newMaster.subkey(context: MasterKey.shareContext))
            try IdentityRow.reseal(nonce: nonce, sealed: sealed, db)
        } else if try IdentityRow.count(db) != 0 {
            throw VaultError.shareTampered(reason: "a stray vault_identity row")
        }
        // Checked under the old keys (rows, state, freshness), then every MAC under the new
        // metadata key; the state names the same audit row as before.
        let rows = try verifiedSharing(db)
        var recipients = rows.recipients, follows = rows.follows, received = rows.received
        for i in recipients.indices {
            recipients[i].mac = Data(ShareMAC.recipient(key: newMetaKey, vaultID: vaultID, recipients[i]))
            try RecipientRow.setMAC(Array(recipients[i].mac), id: recipients[i].id, db)
        }
        for i in follows.indices {
            follows[i].mac = Data(ShareMAC.follow(key: newMetaKey, vaultID: vaultID, follows[i]))
            try follows[i].updateMAC(db)
        }
        for i in received.indices {
            received[i].mac = Data(ShareMAC.received(key: newMetaKey, vaultID: vaultID, received[i]))
            try received[i].save(db)
        }
        if let seq = rows.stateSeq {
            let mac = ShareMAC.state(key: newMetaKey, vaultID: vaultID, stateSeq: seq, recipients: recipients, follows: follows, received: received)
            try SharingStateRow(stateSeq: seq, mac: Data(mac)).save(db)
        }
    }

    /// `doctor`'s sharing check: the identity opens and every schema-6 MAC verifies.
    func sharingCheck() -> DoctorCheck {
        do {
            let (identity, rows) = try vault.store.read { db -> (Bool, SharingRows) in
                let row = try IdentityRow.fetch(db)
                if let row { _ = try openIdentity(row) } else if try IdentityRow.count(db) != 0 {
                    throw VaultError.shareTampered(reason: "a stray vault_identity row")
                }
                return (row != nil, try verifiedSharing(db))
            }
            let state = rows.stateSeq.map { "the sharing state verifies and is current (audit row \($0))" }
                ?? "the sharing state is not sealed yet (a vault from schema 6: sealed at its next sharing command)"
            return DoctorCheck(check: "sharing", ok: true,
                               detail: (identity ? "identity opens" : "no identity yet (made at first use)") +
                                   "; \(rows.recipients.count) recipients, \(rows.follows.count) follows, \(rows.received.count) received keys authenticate; " + state)
        } catch {
            return DoctorCheck(check: "sharing", ok: false, detail: VaultStore.mapDatabaseError(error).description)
        }
    }

    // MARK: - Recipients

    /// Adds a recipient. `trusted` needs a signing key (receive accepts drops it signed).
    public func addRecipient(_ name: String, recipient text: String, signingKey: String?, trusted: Bool) throws(VaultError) -> RecipientInfo {
        try Validate.recipientName(name)
        guard let recipient = AgeRecipient(text) else {
            throw .invalidInput(reason: "\(displayName(text)) is not an age recipient (age1…)", hint: nil)
        }
        var key: [UInt8]?
        if let signingKey {
            guard let k = SigningKey.parse(signingKey) else {
                throw .invalidInput(reason: "\(displayName(signingKey)) is not a signing key (v1vsig1…)", hint: nil)
            }
            key = k
        }
        if trusted && key == nil { throw .invalidInput(reason: "a trusted recipient needs its signing key", hint: nil) }
        try ensureIdentity()
        return try perform("recipient-add", subjects: [], details: ["recipient": name, "trusted": trusted ? "yes" : "no"]) { w in
            let own = try loadIdentity(w.db)
            if recipient.publicKey == own.agePublic || key == own.signingPublic {
                throw VaultError.invalidInput(reason: "that is this vault's own identity", hint: nil)
            }
            let rows = try verifiedSharing(w.db)
            if rows.recipient(named: name) != nil { throw VaultError.recipientExists(name: name, reason: "already exists") }
            if let other = rows.recipient(withAge: recipient.text) {
                throw VaultError.recipientExists(name: name, reason: "has the same age recipient as \(other.name)")
            }
            if let key, let other = rows.recipients(withSigningKey: key).first {
                throw VaultError.recipientExists(name: name, reason: "has the same signing key as \(other.name)")
            }
            let created = Timestamp.seconds(now)
            let id = try RecipientRow.insert(name: name, ageRecipient: recipient.text, signingKey: key, trusted: trusted, createdAt: created, w.db)
            var row = RecipientRow(id: id, name: name, ageRecipient: recipient.text, signingKey: key.map { Data($0) }, trusted: trusted,
                                   createdAt: created, mac: Data())
            row.mac = Data(ShareMAC.recipient(key: metadataKey, vaultID: vaultID, row))
            try RecipientRow.setMAC(Array(row.mac), id: id, w.db)
            w.sharingChanged = true
            return RecipientInfo(name: name, recipient: recipient.text, signingKey: signingKey, trusted: trusted,
                                 created: Timestamp.date(created), follows: [])
        }
    }

    /// Every recipient, each MAC verified (a failing one is `shareTampered`, exit 14).
    public func recipients() throws(VaultError) -> [RecipientInfo] {
        try ensureIdentity()
        return try vault.store.read { db in
            let sharing = try verifiedSharing(db)
            let rows = sharing.recipients.sorted { $0.name < $1.name }
            let follows = sharing.follows
            let tokenNames = Dictionary(uniqueKeysWithValues: try TokenRecord.idsAndNames(db).map { ($0.id, $0.name) })
            return rows.map { r in
                RecipientInfo(name: r.name, recipient: r.ageRecipient, signingKey: r.signingKey.map { SigningKey.text(Array($0)) },
                              trusted: r.trusted, created: Timestamp.date(r.createdAt),
                              follows: follows.filter { $0.recipientID == r.id }.compactMap { tokenNames[$0.tokenID] }.sorted())
            }
        }
    }

    /// Trusts (or stops trusting) a recipient's signing key: `receive` accepts the drops it
    /// signs. A key given must be the one on record, or the first one; trust needs a key.
    public func setTrust(_ name: String, signingKey: String?, trusted: Bool) throws(VaultError) -> RecipientInfo {
        var key: [UInt8]?
        if let signingKey {
            guard let k = SigningKey.parse(signingKey) else {
                throw .invalidInput(reason: "\(displayName(signingKey)) is not a signing key (v1vsig1…)", hint: nil)
            }
            key = k
        }
        return try perform("recipient-trust", subjects: [], details: ["recipient": name, "trusted": trusted ? "yes" : "no"]) { w in
            let rows = try verifiedSharing(w.db)
            var r = try Self.recipient(name, in: rows)
            if let key, let held = r.signingKey, Array(held) != key {
                throw VaultError.invalidInput(reason: "recipient \(displayName(name)) has another signing key on record; a changed key is a new identity: remove the recipient and add it again", hint: nil)
            }
            if let key, r.signingKey == nil, let other = rows.recipients(withSigningKey: key).first {
                throw VaultError.recipientExists(name: name, reason: "would have the same signing key as \(other.name)")
            }
            let newKey = key ?? r.signingKey.map(Array.init)
            if trusted && newKey == nil { throw VaultError.invalidInput(reason: "a trusted recipient needs its signing key", hint: nil) }
            r.signingKey = newKey.map { Data($0) }
            r.trusted = trusted
            try RecipientRow.setTrust(signingKey: newKey, trusted: trusted, id: r.id, w.db)
            try RecipientRow.setMAC(ShareMAC.recipient(key: metadataKey, vaultID: vaultID, r), id: r.id, w.db)
            w.sharingChanged = true
            return RecipientInfo(name: r.name, recipient: r.ageRecipient, signingKey: newKey.map(SigningKey.text), trusted: trusted,
                                 created: Timestamp.date(r.createdAt), follows: [])
        }
    }

    /// Removes a recipient and what it follows. What it already received stays valid: renew to revoke.
    public func removeRecipient(_ name: String) throws(VaultError) {
        try perform("recipient-remove", subjects: [], details: ["recipient": name]) { w in
            let r = try Self.recipient(name, in: try verifiedSharing(w.db))
            try RecipientRow.delete(id: r.id, w.db)
            w.sharingChanged = true
        }
    }

    /// Makes `name` follow (or stop following) `tokens`: `renew --publish` and `share --followers`
    /// send their new versions to it. Returns the tokens whose mark changed.
    @discardableResult
    public func setFollows(_ name: String, tokens: [String], follow: Bool) throws(VaultError) -> [String] {
        try perform(follow ? "recipient-follow" : "recipient-unfollow", subjects: tokens.map { AuditSubject(name: $0) },
                    details: ["recipient": name]) { w in
            let rows = try verifiedSharing(w.db)
            let r = try Self.recipient(name, in: rows)
            var changed: [String] = []
            var done: Set<Int64> = []
            for token in tokens {
                let t = try resolve(w.db, token)
                let id = t.record.id!
                // A token named twice: the first mention already changed it.
                guard done.insert(id).inserted else { continue }
                let exists = rows.follows(recipientID: r.id, tokenID: id)
                if follow && !exists {
                    var row = FollowRow(recipientID: r.id, tokenID: id, mac: Data())
                    row.mac = Data(ShareMAC.follow(key: metadataKey, vaultID: vaultID, row))
                    try row.insert(w.db)
                    changed.append(token)
                } else if !follow && exists {
                    try FollowRow.delete(recipientID: r.id, tokenID: id, w.db)
                    changed.append(token)
                }
            }
            w.details["changed"] = "\(changed.count)"
            if !changed.isEmpty { w.sharingChanged = true }
            return changed
        }
    }

    /// The recipient called `name` among verified rows, or `recipientNotFound` (exit 9).
    static func recipient(_ name: String, in rows: SharingRows) throws(VaultError) -> RecipientRow {
        guard let r = rows.recipient(named: name) else { throw .recipientNotFound(name: name) }
        return r
    }

    // MARK: - Share

    /// Writes the drops for `tokens` (their current versions): one file for all of them to
    /// `.recipients`, or one file per follower and token for `.followers`. Audited as `share`
    /// (no audit, no drop). Tokens nobody follows produce no drop with `.followers`.
    public func share(_ tokens: [String], to target: ShareTarget, allowExpired: Bool = false) throws(VaultError) -> [Drop] {
        guard !tokens.isEmpty, Set(tokens).count == tokens.count else {
            throw .invalidInput(reason: "name each token once", hint: nil)
        }
        try ensureIdentity()
        var details: [String: String] = [:]
        switch target {
        case .recipients(let names), .each(let names): details["to"] = names.joined(separator: ",")
        case .followers: details["to"] = "followers"
        }
        return try perform("share", subjects: tokens.map { AuditSubject(name: $0) }, details: details, releasesSecrets: true) { w in
            let own = try loadIdentity(w.db)
            var resolved: [(entry: TransferEntry, t: ResolvedToken)] = []
            for name in tokens {
                let t = try resolve(w.db, name)
                _ = try expiryWarning(name: name, version: t.current.version, expiresAt: t.current.expiresAt,
                                      createdAt: t.current.createdAt, allowExpired: allowExpired)
                let r = t.record
                resolved.append((TransferEntry(name: r.name, region: r.region, baseURL: r.baseUrl, role: r.role, description: r.description,
                                               permissions: r.permissionList, version: t.current.version, createdAt: t.current.createdAt,
                                               expiresAt: t.current.expiresAt, consoleID: t.current.console.id,
                                               consoleName: t.current.console.name), t))
            }
            w.subjects = resolved.map { AuditSubject(name: $0.entry.name, version: $0.entry.version) }
            var plan: [(recipients: [RecipientRow], indices: [Int])] = []
            switch target {
            case .recipients(let names), .each(let names):
                guard !names.isEmpty, Set(names).count == names.count, names.count <= TransferDocument.maxAddressees else {
                    throw VaultError.invalidInput(reason: "name each recipient once (at most \(TransferDocument.maxAddressees))", hint: nil)
                }
                let sharing = try verifiedSharing(w.db)
                let rows = try names.map { try Self.recipient($0, in: sharing) }
                if case .each = target {
                    plan = rows.flatMap { r in resolved.indices.map { ([r], [$0]) } }
                } else {
                    plan = [(rows, Array(resolved.indices))]
                }
            case .followers:
                let sharing = try verifiedSharing(w.db)
                let byID = Dictionary(uniqueKeysWithValues: sharing.recipients.map { ($0.id, $0) })
                let follows = sharing.follows
                for (i, item) in resolved.enumerated() {
                    for f in follows where f.tokenID == item.t.record.id! {
                        guard let r = byID[f.recipientID] else { continue }
                        plan.append(([r], [i]))
                    }
                }
            }
            var drops: [Drop] = []
            var scratch = SecureBytes(capacity: 0, empty: true)
            var digests: [String] = []
            for p in plan {
                let entries = p.indices.map { resolved[$0].entry }
                let doc = try buildDocument(own, to: p.recipients, entries: entries, tokens: p.indices.map { resolved[$0].t }, scratch: &scratch)
                let bytes = Age.encrypt(doc, to: try p.recipients.map(Self.ageRecipient))
                digests.append(Self.sha256Hex(bytes))
                drops.append(Drop(recipients: p.recipients.map(\.name), tokens: entries.map { ($0.name, $0.version) }, bytes: bytes))
            }
            w.details["files"] = "\(drops.count)"
            if !digests.isEmpty { w.details["sha256"] = digests.joined(separator: ",") }
            if case .followers = target {
                w.details["to"] = Array(Set(drops.flatMap(\.recipients))).sorted().joined(separator: ",")
            }
            return drops
        }
    }

    /// The signed document for `tokens`' current values, opened one by one into `scratch`.
    private func buildDocument(_ own: borrowing ShareIdentity, to recipients: [RecipientRow], entries: [TransferEntry],
                               tokens: [ResolvedToken], scratch: inout SecureBytes) throws -> SecureBytes {
        // Open every value into one arena first (sizes are needed before the document is laid out).
        let total = tokens.reduce(0) { $0 + max($1.target.ciphertext.count - SecretBox.macBytes, 0) }
        var arena = SecureBytes(capacity: total, empty: true)
        var ranges: [Range<Int>] = []
        for t in tokens {
            let r = try open(t.target, tokenID: t.record.id!, version: t.target.version, name: t.record.name, into: &scratch)
            let start = arena.count
            scratch.withUnsafeBytes { arena.append(UnsafeRawBufferPointer(rebasing: $0[r])) }
            ranges.append(start..<arena.count)
        }
        scratch.reset()
        let addressees = try recipients.map(Self.ageRecipient)
        return TransferDocument.build(sender: own, issued: Timestamp.seconds(now), to: addressees, entries: entries,
                                      valueLength: { ranges[$0].count },
                                      appendValue: { i, doc in arena.withUnsafeBytes { doc.append(UnsafeRawBufferPointer(rebasing: $0[ranges[i]])) } })
    }

    static func ageRecipient(_ r: RecipientRow) throws(VaultError) -> AgeRecipient {
        guard let a = AgeRecipient(r.ageRecipient) else {
            throw .shareTampered(reason: "recipient \(displayName(r.name)) has no valid age recipient")
        }
        return a
    }

    static func sha256Hex(_ bytes: [UInt8]) -> String {
        var out = [UInt8](repeating: 0, count: 32)
        _ = crypto_hash_sha256(&out, bytes, UInt64(bytes.count))
        return out.map { String(format: "%02x", $0) }.joined()
    }
}
