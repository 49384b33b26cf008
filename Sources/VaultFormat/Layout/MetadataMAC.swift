import Foundation

/// The keyed MAC over a token's identity and metadata (SECURITY.md, "Token metadata MAC").
/// It stops anyone who can write the file but lacks the key from pointing a token at another
/// base URL or swapping two tokens' names.
package enum MetadataMAC {
    package static let domain = Array("v1vault-meta-v1".utf8)
    /// Schema 5: used instead when the token has a warning window or is a manager key; the
    /// input then ends with both.
    package static let domainV2 = Array("v1vault-meta-v2".utf8)

    package static func usesV2(_ t: TokenRecord) -> Bool { t.warnDays != nil || t.manager }

    package static func encode(vaultID: [UInt8], _ t: TokenRecord) -> [UInt8] {
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
        if usesV2(t) {
            if let w = t.warnDays { out.append(1); withUnsafeBytes(of: UInt32(w).bigEndian) { out += $0 } } else { out.append(0) }
            out.append(t.manager ? 1 : 0)
        }
        return out
    }

    package static func mac(key: borrowing SecureBytes, vaultID: [UInt8], _ t: TokenRecord) -> [UInt8] {
        KeyedHash.mac(key: key, parts: [usesV2(t) ? domainV2 : domain, encode(vaultID: vaultID, t)])
    }

    package static func verify(key: borrowing SecureBytes, vaultID: [UInt8], _ t: TokenRecord) -> Bool {
        guard let stored = t.metaMac else { return false }
        let expected = mac(key: key, vaultID: vaultID, t)
        return expected.withUnsafeBytes { a in stored.withUnsafeBytes { b in Sodium.constantTimeEqual(a, b) } }
    }
}
