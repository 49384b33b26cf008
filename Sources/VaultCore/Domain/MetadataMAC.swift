import Foundation

/// The keyed MAC over a token's identity and metadata (SECURITY.md, "Token metadata MAC").
/// It stops anyone who can write the file but lacks the key from pointing a token at another
/// base URL or swapping two tokens' names.
enum MetadataMAC {
    static let domain = Array("v1vault-meta-v1".utf8)

    static func encode(vaultID: [UInt8], _ t: TokenRecord) -> [UInt8] {
        var out = vaultID
        func u64(_ v: Int64) { withUnsafeBytes(of: UInt64(bitPattern: v).bigEndian) { out += $0 } }
        func str(_ s: String) {
            let b = Array(s.utf8)
            withUnsafeBytes(of: UInt32(b.count).bigEndian) { out += $0 }
            out += b
        }
        func opt(_ s: String?) { if let s { out.append(1); str(s) } else { out.append(0) } }
        u64(t.id ?? 0)
        str(t.name); opt(t.region); str(t.baseUrl); opt(t.role); opt(t.description); str(t.permissions)
        u64(t.createdAt)
        return out
    }

    static func mac(key: borrowing SecureBytes, vaultID: [UInt8], _ t: TokenRecord) -> [UInt8] {
        KeyedHash.mac(key: key, parts: [domain, encode(vaultID: vaultID, t)])
    }

    static func verify(key: borrowing SecureBytes, vaultID: [UInt8], _ t: TokenRecord) -> Bool {
        guard let stored = t.metaMac else { return false }
        let expected = mac(key: key, vaultID: vaultID, t)
        return expected.withUnsafeBytes { a in stored.withUnsafeBytes { b in Sodium.constantTimeEqual(a, b) } }
    }
}
