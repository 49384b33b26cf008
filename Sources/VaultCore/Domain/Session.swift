import Foundation
#if canImport(Glibc)
import Glibc
#endif
import VaultFormat

/// Where an unlocked session's key lives.
public enum SessionKeyring: String, Sendable, Equatable {
    /// This login session's keyring (pam_keyinit, systemd-logind): commands of this session.
    case session
    /// The uid's default user-session keyring, which every process of the uid that has no
    /// session keyring of its own shares (cron, ssh without pam_keyinit, containers).
    case userSession = "user-session"
    /// The uid's user keyring (`vault unlock --scope user`): every process of the uid, in
    /// every login, can use it.
    case user
}

/// Who may use a session (`vault unlock --scope`).
public enum SessionScope: String, Sendable, Equatable, CaseIterable {
    /// The login session that unlocked (its session keyring): the default.
    case login
    /// Every process of the uid, in every login (its user keyring).
    case user
}

/// A live unlocked session of one vault.
public struct SessionInfo: Sendable, Equatable {
    public var expires: Date
    public var keyring: SessionKeyring
}

/// What `vault status` reports.
public enum SessionStatus: Sendable, Equatable {
    case unlocked(SessionInfo)
    /// No session for this vault in this process's keyrings.
    case locked
    /// A session key of this vault id exists but does not open this file. `dropped`: it was
    /// bad in itself and has just been invalidated; otherwise it is sound but for another
    /// header (another salt, or a KEK this file's wrapped key does not open) and is left for
    /// `vault lock` or its timeout.
    case stale(reason: String, dropped: Bool)
    /// The kernel keyring cannot be used here (no CONFIG_KEYS, or a seccomp profile).
    case unavailable(VaultError)
}

/// A time-bounded unlocked session (SECURITY.md, "Sessions"): the vault's key-encryption key,
/// bound to the vault id and the current KDF salt, kept in the kernel keyring as a `user` key
/// with a kernel-enforced timeout. Never the passphrase; never on disk. `passwd`, `kdf set`
/// and `rekey` draw a new salt, so the cached KEK stops opening the vault by construction.
///
/// Payload (80 bytes): "V1VSESS1" ‖ vault_id (16) ‖ kdf_salt (16) ‖ expires (u64 BE, unix
/// seconds) ‖ KEK (32). Key description: "v1vault:" ‖ hex(vault_id).
public enum Session {
    public static let defaultSeconds: UInt32 = 15 * 60
    public static let maxSeconds: UInt32 = 12 * 3600
    static let magic = Array("V1VSESS1".utf8)
    static let payloadBytes = 8 + 16 + 16 + 8 + 32
    static let namePrefix = "v1vault:"
    /// Login scope. Possessor: view, read, link, setattr. Owner uid: search. Group, other:
    /// nothing. The kernel adds the possessor's bits only for a process that possesses the key,
    /// and possessing it takes search permission on it on the way down from a keyring of the
    /// process — which only the owner's uid has. So every use but listing the keyring needs
    /// both the owner's uid and a session keyring that links the key: a process of another uid
    /// that shares the session keyring (setpriv, sudo without pam_keyinit) cannot read, find,
    /// update or re-time it; one of the owner's uid that does not possess it (another login,
    /// `vault exec`'s child in its new session keyring) cannot read it even knowing its serial.
    static let loginPermissions: UInt32 = 0x3308_0000
    /// User scope. Possessor: view. Owner uid: view, read, search, link, setattr. Group,
    /// other: nothing. Every process of the owner's uid can read it, possessor or not; one of
    /// another uid cannot, even where it possesses the user keyring (which a login session's
    /// keyring links): without search on the key it never possesses it.
    static let userPermissions: UInt32 = 0x013b_0000
    /// What v1vault before scopes gave a session key (owner uid read: any process of the uid
    /// that learned the serial could read it). Such a key is dropped, and says why.
    static let oldPermissions: UInt32 = 0x013a_0000

    /// A keyring where sessions live, and which permissions make a key there a session of
    /// which kind.
    struct Place {
        let ring: Int32
        let accepts: [UInt32: SessionKeyring]
    }

    /// Where sessions are looked for, in order: the session keyring (login scope), then the
    /// user keyring (user scope). One place when the session keyring is the user keyring
    /// itself (joined by name).
    static func places() -> [Place] {
        let login: SessionKeyring = KernelKeyring.sessionIsUserDefault() ? .userSession : .session
        if let s = KernelKeyring.serial(of: KernelKeyring.session), s == KernelKeyring.serial(of: KernelKeyring.user) {
            return [Place(ring: KernelKeyring.session, accepts: [loginPermissions: .session, userPermissions: .user])]
        }
        return [Place(ring: KernelKeyring.session, accepts: [loginPermissions: login]),
                Place(ring: KernelKeyring.user, accepts: [userPermissions: .user])]
    }

    static func keyName(vaultID: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return namePrefix + String(decoding: vaultID.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }, as: UTF8.self)
    }

    /// `15m`, `90s`, `2h` → seconds, 1 s to 12 h.
    public static func parseDuration(_ text: String) throws(VaultError) -> UInt32 {
        let hint = "use e.g. 15m, 90s or 8h (at most 12h)"
        let t = text.lowercased()
        guard let last = t.last, let unit: UInt32 = ["s": 1, "m": 60, "h": 3600][last] else {
            throw .invalidInput(reason: "invalid session length \(displayName(text))", hint: hint)
        }
        let digits = t.dropLast()
        guard !digits.isEmpty, digits.count <= 6, digits.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let n = UInt32(digits) else {
            throw .invalidInput(reason: "invalid session length \(displayName(text))", hint: hint)
        }
        let seconds = n * unit
        guard (1...maxSeconds).contains(seconds) else {
            throw .invalidInput(reason: "a session lasts from 1s to 12h, not \(displayName(text))", hint: hint)
        }
        return seconds
    }

    static func payload(vaultID: [UInt8], salt: [UInt8], expires: Date, kek: borrowing SecureBytes) -> SecureBytes {
        var p = SecureBytes(capacity: payloadBytes, empty: true)
        let e = UInt64(max(0, expires.timeIntervalSince1970)).bigEndian
        (magic + vaultID + salt).withUnsafeBytes { p.append($0) }
        withUnsafeBytes(of: e) { p.append($0) }
        p.append(kek)
        return p
    }

    /// The KEK of a payload and when it expires, if the payload is well-formed and bound to
    /// this vault id and salt; otherwise why not.
    struct Parsed: ~Copyable { let kek: SecureBytes; let expires: Date }

    static func parse(_ p: borrowing SecureBytes, vaultID: [UInt8], salt: [UInt8]) -> Result<Parsed, Stale> {
        guard p.count == payloadBytes else { return .failure(Stale("the cached key has the wrong size")) }
        return p.withUnsafeBytes { b -> Result<Parsed, Stale> in
            guard Array(b[0..<8]) == magic else { return .failure(Stale("the cached key is not a v1vault session")) }
            guard Array(b[8..<24]) == vaultID else { return .failure(Stale("the cached key is for another vault")) }
            guard Array(b[24..<40]) == salt else {
                return .failure(Stale("the session is for another passphrase or KDF salt of this vault (passwd, kdf set or rekey since, or another copy of the file)", salt: true))
            }
            let e = b[40..<48].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let kek = SecureBytes(copying: UnsafeRawBufferPointer(rebasing: b[48..<80]))
            return .success(Parsed(kek: kek, expires: Date(timeIntervalSince1970: TimeInterval(e))))
        }
    }

    struct Stale: Error {
        let reason: String
        /// Only the salt differs: a sound key for another header of this vault id.
        var salt = false
        init(_ r: String, salt: Bool = false) { reason = r; self.salt = salt }
    }

    /// A usable session key: its serial, the KEK it holds, and until when.
    struct Found: ~Copyable {
        let key: Int32
        let kek: SecureBytes
        let info: SessionInfo
    }

    /// The session key of `vaultID` this process can use: linked directly in its session
    /// keyring or its user keyring, owned by this uid, with v1vault's permissions for that
    /// keyring, a well-formed payload bound to this vault id and `salt`, not expired; the
    /// session keyring's first. A key that is itself bad (foreign permissions, unreadable,
    /// malformed, expired) is invalidated and thrown as `.stale`. One that is merely for
    /// another salt is left alone (`.mismatch`): a file of the same vault id with another
    /// header — an older copy, or a planted one — must not be able to end the real vault's
    /// session. Without a usable key, the first place's reason is thrown.
    static func find(vaultID: [UInt8], salt: [UInt8], now: Date) throws(Lookup) -> Found {
        var first: Lookup?
        for place in places() {
            do {
                return try find(in: place, vaultID: vaultID, salt: salt, now: now)
            } catch {
                if case .none = error { continue }
                if first == nil { first = error }
            }
        }
        throw first ?? .none
    }

    static func find(in place: Place, vaultID: [UInt8], salt: [UInt8], now: Date) throws(Lookup) -> Found {
        let name = keyName(vaultID: vaultID)
        let key: Int32
        do {
            guard let k = try KernelKeyring.find(name, in: place.ring) else { throw Lookup.none }
            key = k
        } catch let error as KernelKeyring.Failure {
            throw error.meansUnavailable ? .unavailable(error) : .none
        } catch {
            throw .none
        }
        func stale(_ reason: String) -> Lookup {
            try? KernelKeyring.invalidate(key)
            return .stale(reason)
        }
        // Another uid's key in our keyring cannot be ours (nor can we remove it): not there.
        guard let d = try? KernelKeyring.describe(key), d.uid == geteuid() else { throw .none }
        guard let ring = place.accepts[d.permissions] else {
            throw stale(d.permissions == oldPermissions ? "the session was started by an older v1vault; unlock again" : "the cached key's permissions were changed")
        }
        guard let p = try? KernelKeyring.read(key, max: payloadBytes) else { throw stale("the cached key is unreadable or too long") }
        switch parse(p, vaultID: vaultID, salt: salt) {
        case .failure(let s):
            throw s.salt ? .mismatch(key: key, reason: s.reason) : stale(s.reason)
        case .success(let parsed):
            let expires = parsed.expires
            guard expires > now, expires.timeIntervalSince(now) <= TimeInterval(maxSeconds) + 60 else {
                throw stale("the session has expired")
            }
            return Found(key: key, kek: parsed.kek, info: SessionInfo(expires: expires, keyring: ring))
        }
    }

    enum Lookup: Error {
        case none
        /// A bad key, invalidated just now.
        case stale(String)
        /// A sound key for another salt of this vault id, left in place.
        case mismatch(key: Int32, reason: String)
        case unavailable(KernelKeyring.Failure)
    }

    /// Stores the KEK for `seconds` (kernel timeout) in the keyring of `scope`, replacing this
    /// vault's earlier session there; then drops this vault's session of the other scope, so
    /// that one is live at a time.
    static func store(vaultID: [UInt8], salt: [UInt8], kek: borrowing SecureBytes, seconds: UInt32, scope: SessionScope, now: Date) throws(VaultError) -> SessionInfo {
        let expires = Date(timeIntervalSince1970: floor(now.timeIntervalSince1970) + TimeInterval(seconds))
        let p = payload(vaultID: vaultID, salt: salt, expires: expires, kek: kek)
        let name = keyName(vaultID: vaultID)
        let ring = scope == .user ? KernelKeyring.user : KernelKeyring.session
        do {
            _ = try KernelKeyring.add(name, payload: p, permissions: scope == .user ? userPermissions : loginPermissions, seconds: seconds, to: ring)
        } catch {
            throw unavailable(error)
        }
        let target = KernelKeyring.serial(of: ring)
        for place in places() where KernelKeyring.serial(of: place.ring) != target {
            if let k = try? KernelKeyring.find(name, in: place.ring), (try? KernelKeyring.describe(k))?.uid == geteuid() {
                try? KernelKeyring.invalidate(k)
            }
        }
        let keyring: SessionKeyring = scope == .user ? .user : KernelKeyring.sessionIsUserDefault() ? .userSession : .session
        return SessionInfo(expires: expires, keyring: keyring)
    }

    static func unavailable(_ error: KernelKeyring.Failure) -> VaultError {
        .sessionUnavailable(reason: "the kernel keyring refused it (\(error.message))",
                            hint: error.meansUnavailable
                                ? "a container's seccomp profile (Docker's default) blocks the keyring system calls; every command will ask for the passphrase"
                                : nil)
    }

    /// Invalidates every v1vault session key this process's session keyring and user keyring
    /// link (all vaults, both scopes); returns how many.
    public static func lockAll() throws(VaultError) -> Int {
        var keys: [Int32] = []
        do {
            for place in places() { keys += try KernelKeyring.keys(in: place.ring) }
        } catch {
            throw unavailable(error)
        }
        var n = 0
        for k in Set(keys) {
            guard let d = try? KernelKeyring.describe(k), d.name.hasPrefix(namePrefix) else { continue }
            if (try? KernelKeyring.invalidate(k)) != nil { n += 1 }
        }
        return n
    }
}
