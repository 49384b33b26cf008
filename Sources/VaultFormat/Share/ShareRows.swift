import CSodium
import Foundation

// Schema 6 (sharing): the rows as values, what their seals and MACs cover (SECURITY.md,
// "Sharing (schema 6)"). VaultStorage reads and writes them.

/// The single `vault_identity` row: the public halves in the clear, the secrets sealed.
package struct IdentityRow: Sendable {
    package var agePublic: Data
    package var signingPublic: Data
    package var nonce: Data
    package var sealed: Data
    package var createdAt: Int64

    package init(agePublic: Data, signingPublic: Data, nonce: Data, sealed: Data, createdAt: Int64) {
        self.agePublic = agePublic
        self.signingPublic = signingPublic
        self.nonce = nonce
        self.sealed = sealed
        self.createdAt = createdAt
    }
}

/// One `recipients` row: another vault.
package struct RecipientRow: Sendable, Equatable {
    package var id: Int64
    package var name: String
    package var ageRecipient: String
    package var signingKey: Data?
    package var trusted: Bool
    package var createdAt: Int64
    package var mac: Data

    package init(id: Int64, name: String, ageRecipient: String, signingKey: Data?, trusted: Bool, createdAt: Int64, mac: Data) {
        self.id = id
        self.name = name
        self.ageRecipient = ageRecipient
        self.signingKey = signingKey
        self.trusted = trusted
        self.createdAt = createdAt
        self.mac = mac
    }
}

/// One `recipient_follows` row: `renew --publish` sends `tokenID` to `recipientID`.
package struct FollowRow: Sendable, Equatable {
    package var recipientID: Int64
    package var tokenID: Int64
    package var mac: Data

    package init(recipientID: Int64, tokenID: Int64, mac: Data) {
        self.recipientID = recipientID
        self.tokenID = tokenID
        self.mac = mac
    }
}

/// The `sharing_state` row (schema 7): the audit row that last changed the sharing rows, and
/// the MAC over all of them (`ShareMAC.state`).
package struct SharingStateRow: Sendable, Equatable {
    package var stateSeq: Int64
    package var mac: Data

    package init(stateSeq: Int64, mac: Data) {
        self.stateSeq = stateSeq
        self.mac = mac
    }
}

/// One `received_tokens` row: where a received token came from.
package struct ReceivedRow: Sendable, Equatable {
    package var tokenID: Int64
    package var senderKey: Data
    package var remoteVersion: Int64
    package var receivedAt: Int64
    package var mac: Data

    package init(tokenID: Int64, senderKey: Data, remoteVersion: Int64, receivedAt: Int64, mac: Data) {
        self.tokenID = tokenID
        self.senderKey = senderKey
        self.remoteVersion = remoteVersion
        self.receivedAt = receivedAt
        self.mac = mac
    }
}

/// The MACs of the schema-6 rows: keyed BLAKE2b (`crypto_generichash`, 32 bytes) under the
/// metadata key, each with its own domain string, bound to the vault and the row's identity.
package enum ShareMAC {
    package static let recipientDomain = Array("v1vault-recipient-v1".utf8)
    package static let followDomain = Array("v1vault-follow-v1".utf8)
    package static let receivedDomain = Array("v1vault-received-v1".utf8)

    private static func u64(_ v: Int64, _ out: inout [UInt8]) { withUnsafeBytes(of: UInt64(bitPattern: v).bigEndian) { out += $0 } }
    private static func u32(_ v: Int, _ out: inout [UInt8]) { withUnsafeBytes(of: UInt32(truncatingIfNeeded: v).bigEndian) { out += $0 } }
    private static func str(_ s: String, _ out: inout [UInt8]) {
        let b = Array(s.utf8)
        withUnsafeBytes(of: UInt32(b.count).bigEndian) { out += $0 }
        out += b
    }

    package static func recipientInput(vaultID: [UInt8], _ r: RecipientRow) -> [UInt8] {
        var out = vaultID
        u64(r.id, &out)
        str(r.name, &out)
        str(r.ageRecipient, &out)
        if let k = r.signingKey { out.append(1); out += Array(k) } else { out.append(0) }
        out.append(r.trusted ? 1 : 0)
        u64(r.createdAt, &out)
        return out
    }

    package static func followInput(vaultID: [UInt8], _ f: FollowRow) -> [UInt8] {
        var out = vaultID
        u64(f.recipientID, &out)
        u64(f.tokenID, &out)
        return out
    }

    package static func receivedInput(vaultID: [UInt8], _ r: ReceivedRow) -> [UInt8] {
        var out = vaultID
        u64(r.tokenID, &out)
        out += Array(r.senderKey)
        u64(r.remoteVersion, &out)
        u64(r.receivedAt, &out)
        return out
    }

    package static func recipient(key: borrowing SecureBytes, vaultID: [UInt8], _ r: RecipientRow) -> [UInt8] {
        KeyedHash.mac(key: key, parts: [recipientDomain, recipientInput(vaultID: vaultID, r)])
    }

    package static func follow(key: borrowing SecureBytes, vaultID: [UInt8], _ f: FollowRow) -> [UInt8] {
        KeyedHash.mac(key: key, parts: [followDomain, followInput(vaultID: vaultID, f)])
    }

    package static func received(key: borrowing SecureBytes, vaultID: [UInt8], _ r: ReceivedRow) -> [UInt8] {
        KeyedHash.mac(key: key, parts: [receivedDomain, receivedInput(vaultID: vaultID, r)])
    }

    package static let stateDomain = Array("v1vault-sharing-state-v1".utf8)

    /// The sharing state MAC (schema 7): every recipient, follow and received row — each by its
    /// identity and its own MAC, which binds the rest — and the audit row of the command that
    /// last changed them. The rows must come in the orders given (recipients by id, follows by
    /// recipient then token, received marks by token).
    package static func stateInput(vaultID: [UInt8], stateSeq: Int64, recipients: [RecipientRow], follows: [FollowRow],
                                   received: [ReceivedRow]) -> [UInt8] {
        var out = vaultID
        u64(stateSeq, &out)
        u32(recipients.count, &out)
        for r in recipients { u64(r.id, &out); out += Array(r.mac) }
        u32(follows.count, &out)
        for f in follows { u64(f.recipientID, &out); u64(f.tokenID, &out); out += Array(f.mac) }
        u32(received.count, &out)
        for m in received { u64(m.tokenID, &out); out += Array(m.mac) }
        return out
    }

    package static func state(key: borrowing SecureBytes, vaultID: [UInt8], stateSeq: Int64, recipients: [RecipientRow],
                              follows: [FollowRow], received: [ReceivedRow]) -> [UInt8] {
        KeyedHash.mac(key: key, parts: [stateDomain, stateInput(vaultID: vaultID, stateSeq: stateSeq, recipients: recipients,
                                                                 follows: follows, received: received)])
    }

    package static func equal(_ expected: [UInt8], _ stored: Data) -> Bool {
        stored.count == 32 && expected.withUnsafeBytes { a in stored.withUnsafeBytes { b in Sodium.constantTimeEqual(a, b) } }
    }
}
