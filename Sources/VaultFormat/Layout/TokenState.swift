import Foundation

/// The bookkeeping of one kept version: everything about it but its secret.
package struct VersionState: Equatable {
    package var version: Int
    package var createdAt: Int64
    package var expiresAt: Int64?
    package var retiredAt: Int64?
    /// The version's nonce (24 bytes): covered by the state MAC, so a sealed box from another
    /// time — a removed token whose id was handed out again — cannot be put in its place.
    package var nonce: Data
    /// The console key this version is (schema 5).
    package var console = ConsoleLink()

    package init(version: Int, createdAt: Int64, expiresAt: Int64?, retiredAt: Int64?, nonce: Data, console: ConsoleLink = ConsoleLink()) {
        self.version = version; self.createdAt = createdAt; self.expiresAt = expiresAt; self.retiredAt = retiredAt
        self.nonce = nonce; self.console = console
    }
}

/// Which Vision One console key (Administration > API Keys) a version is, and what v1vault last
/// did to it there. All three are covered by the token's state MAC (SECURITY.md, "Console links").
public struct ConsoleLink: Sendable, Equatable {
    public enum State: String, Sendable { case enabled, disabled, deleted }
    /// The console key's `id`.
    public var id: String?
    /// The console key's `name` when it was linked or created.
    public var name: String?
    /// Enabled, disabled or deleted by v1vault (nil: never touched or unknown).
    public var state: State?

    public init(id: String? = nil, name: String? = nil, state: State? = nil) {
        self.id = id; self.name = name; self.state = state
    }

    public var isEmpty: Bool { id == nil && name == nil && state == nil }

    /// Console ids: 1–128 of `[A-Za-z0-9._:-]`, starting with a letter or digit (Vision One uses
    /// UUIDs; `..` would otherwise become a path segment of the request URL).
    public static func isValidID(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard let first = b.first, (first >= 48 && first <= 57) || (first >= 65 && first <= 90) || (first >= 97 && first <= 122) else { return false }
        return (1...128).contains(b.count) && b.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || "._:-".utf8.contains($0) }
    }

    /// Console names: 1–256 printable characters, no control or bidi characters.
    public static func isValidName(_ s: String) -> Bool {
        !s.isEmpty && s.unicodeScalars.count <= 256 && (try? Validate.text(s, field: "console name")) != nil && s.unicodeScalars.allSatisfy { $0.value >= 0x20 }
    }
}

/// The keyed MAC over a token's version bookkeeping (SECURITY.md, "Token state MAC"): which
/// version is current, every kept version's number and times, and the audit row that last
/// changed them. Someone who can write the file but lacks the key cannot make another version
/// current, un-retire one, move an expiry, or drop a version without it failing closed.
package enum StateMAC {
    package static let domain = Array("v1vault-state-v1".utf8)
    /// Schema 5: used instead when any kept version has a console link, or the token is a
    /// manager key or has its own warning window; each version's entry then also covers its
    /// console id, name and state, and the input ends with the token's metadata MAC — so the
    /// metadata of such a token (its manager mark, its base URL) is as fresh as its state: an
    /// older authentic `tokens` row put back fails, or needs older state that the freshness
    /// check refuses.
    package static let domainV2 = Array("v1vault-state-v2".utf8)

    /// What of the token's row the v2 state MAC binds.
    package struct Bound {
        package var metaMac: Data?
        package var manager = false
        package var warnDays: Int?
        package static let none = Bound(metaMac: nil)
        package init(metaMac: Data?, manager: Bool = false, warnDays: Int? = nil) { self.metaMac = metaMac; self.manager = manager; self.warnDays = warnDays }
        package init(_ r: TokenRecord) { self.init(metaMac: r.metaMac, manager: r.manager, warnDays: r.warnDays) }
    }

    package static func usesV2(_ versions: [VersionState], _ bound: Bound) -> Bool {
        hasConsoleLinks(versions) || bound.manager || bound.warnDays != nil
    }
    /// Audit actions that change a token's versions; the newest sealed, successful row naming a
    /// token must be the one its `state_seq` names. (Migration 0003's partial index
    /// `audit_log_state_changes` lists the same actions; it is not used: index contents can be
    /// altered behind unchanged schema text, so the check walks the table.)
    package static let changingActionNames: Set<String> = ["add", "rotate", "rollback", "remove", "import", "seal-state", "edit", "rename", "renew", "sync"]

    /// The token names in an audit row's `tokens` text (a JSON array of objects with a string
    /// `name`); nil unless it is exactly that shape.
    package static func names(inTokens text: String) -> [String]? {
        guard let array = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [Any] else { return nil }
        var names: [String] = []
        for element in array {
            guard let object = element as? [String: Any], let name = object["name"] as? String else { return nil }
            names.append(name)
        }
        return names
    }

    package static func encode(vaultID: [UInt8], tokenID: Int64, stateSeq: Int64, current: Int, versions: [VersionState], v2 linked: Bool) -> [UInt8] {
        var out = vaultID
        func u64(_ v: Int64) { withUnsafeBytes(of: UInt64(bitPattern: v).bigEndian) { out += $0 } }
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).bigEndian) { out += $0 } }
        func opt(_ v: Int64?) { if let v { out.append(1); u64(v) } else { out.append(0) } }
        func str(_ s: String?) {
            guard let s else { out.append(0); return }
            let b = Array(s.utf8)
            out.append(1); u32(b.count); out += b
        }
        u64(tokenID); u64(stateSeq); u32(current); u32(versions.count)
        for v in versions {
            u32(v.version); u64(v.createdAt); opt(v.expiresAt); opt(v.retiredAt); out += v.nonce
            if linked { str(v.console.id); str(v.console.name); str(v.console.state?.rawValue) }
        }
        return out
    }

    package static func hasConsoleLinks(_ versions: [VersionState]) -> Bool { versions.contains { !$0.console.isEmpty } }

    package static func mac(key: borrowing SecureBytes, vaultID: [UInt8], tokenID: Int64, stateSeq: Int64, versions: [VersionState],
                    bound: Bound = .none) throws(VaultError) -> [UInt8] {
        let current = try currentVersion(versions, name: nil)
        let v2 = usesV2(versions, bound)
        var parts = [v2 ? domainV2 : domain, encode(vaultID: vaultID, tokenID: tokenID, stateSeq: stateSeq,
                                                    current: current.version, versions: versions, v2: v2)]
        if v2 { parts.append(bound.metaMac.map { Array($0) } ?? [UInt8](repeating: 0, count: 32)) }
        return KeyedHash.mac(key: key, parts: parts)
    }

    /// Checks the shape every reader MUST check before the MAC: versions within 1…2³²−1,
    /// strictly increasing, exactly one current. Returns the current one.
    package static func currentVersion(_ versions: [VersionState], name: String?) throws(VaultError) -> VersionState {
        let label = name ?? "?"
        var previous = 0
        for v in versions {
            guard v.version > previous, v.version <= Int(UInt32.max) else {
                throw .stateTampered(name: label, reason: "version number \(v.version) is out of range or out of order")
            }
            previous = v.version
        }
        let current = versions.filter { $0.retiredAt == nil }
        guard current.count == 1 else {
            throw .stateTampered(name: label, reason: current.isEmpty ? "no current version" : "\(current.count) current versions")
        }
        return current[0]
    }
}

/// Which tokens without MACs `doctor --seal-metadata` may vouch for, from the verified audit
/// rows alone (SECURITY.md, "What `doctor --seal-metadata` vouches for").
package enum LegacyVouch {
    package struct Row: Equatable {
        package var seq: Int64
        package var action: String
        package var names: [String]
        /// The row carries `"state":"sealed"`: a binary of schema 3 or later wrote it, and the
        /// tokens it names had their MACs sealed.
        package var stateMarked: Bool

        package init(seq: Int64, action: String, names: [String], stateMarked: Bool) {
            self.seq = seq; self.action = action; self.names = names; self.stateMarked = stateMarked
        }
    }

    /// Per candidate: nil when it may be vouched for, else why not. Only a token left from
    /// before schema 2 qualifies: a sealed `add`, `import` or `rename` row named it before the
    /// first state-marked row (the upgrade), no state-marked row ever named it (its MACs existed:
    /// a token without them now was stripped), and it has nothing a pre-schema-5 token cannot have.
    package static func verdicts(candidates: [String], rows: [Row], schema5: Set<String>) -> [String: String?] {
        var knownBefore = Set<String>(), sealedAt: [String: Int64] = [:]
        var upgraded = false
        for row in rows {
            if row.stateMarked {
                upgraded = true
                for n in row.names where sealedAt[n] == nil { sealedAt[n] = row.seq }
            } else if !upgraded, ["add", "import", "rename"].contains(row.action) {
                knownBefore.formUnion(row.names)
            }
        }
        var out: [String: String?] = [:]
        for name in candidates {
            if let seq = sealedAt[name] {
                out[name] = .some("the audit log shows its MACs were sealed before (audit row \(seq)): they were removed from the file, so what it holds now is not vouched for; restore it from a backup")
            } else if schema5.contains(name) {
                out[name] = .some("it has a console link, the manager mark or its own warning window, which no token from before schema 2 can have")
            } else if !knownBefore.contains(name) {
                out[name] = .some("the audit log has no record of it from before the upgrade to MACs")
            } else {
                out[name] = .some(nil)
            }
        }
        return out
    }
}
