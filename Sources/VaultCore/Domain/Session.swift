import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where an unlocked session's key lives.
public enum SessionKeyring: String, Sendable, Equatable {
    /// This login session's keyring (pam_keyinit, systemd-logind): commands of this session.
    case session
    /// The uid's default user-session keyring, which every process of the uid that has no
    /// session keyring of its own shares (cron, ssh without pam_keyinit, containers).
    case userSession = "user-session"
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
    /// Possessor: view. Owner uid: read, search, link, setattr. Group, other: nothing. Every
    /// operation but viewing needs the owner's uid, so a process of another uid that possesses
    /// the keyring (started with setpriv, or sudo without pam_keyinit) can neither read, find,
    /// update nor re-time the key; one of the owner's uid that does not possess it cannot list
    /// it (/proc/keys and keyring reads need view).
    static let permissions: UInt32 = 0x0100_0000 | 0x003a_0000

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

    /// The session key of `vaultID` this process can use: linked in its session keyring,
    /// owned by this uid, with v1vault's permissions, a well-formed payload bound to this vault
    /// id and `salt`, not expired. A key that is itself bad (foreign permissions, unreadable,
    /// malformed, expired) is invalidated and thrown as `.stale`. One that is merely for another
    /// salt is left alone (`.mismatch`): a file of the same vault id with another header — an
    /// older copy, or a planted one — must not be able to end the real vault's session.
    static func find(vaultID: [UInt8], salt: [UInt8], now: Date) throws(Lookup) -> Found {
        let name = keyName(vaultID: vaultID)
        let key: Int32
        do {
            guard let k = try KernelKeyring.findInSession(name) else { throw Lookup.none }
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
        guard d.permissions == permissions else { throw stale("the cached key's permissions were changed") }
        guard let p = try? KernelKeyring.read(key, max: payloadBytes) else { throw stale("the cached key is unreadable or too long") }
        switch parse(p, vaultID: vaultID, salt: salt) {
        case .failure(let s):
            throw s.salt ? .mismatch(key: key, reason: s.reason) : stale(s.reason)
        case .success(let parsed):
            let expires = parsed.expires
            guard expires > now, expires.timeIntervalSince(now) <= TimeInterval(maxSeconds) + 60 else {
                throw stale("the session has expired")
            }
            let ring: SessionKeyring = KernelKeyring.sessionIsUserDefault() ? .userSession : .session
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

    /// Stores the KEK for `seconds` (kernel timeout), replacing this vault's earlier session.
    static func store(vaultID: [UInt8], salt: [UInt8], kek: borrowing SecureBytes, seconds: UInt32, now: Date) throws(VaultError) -> SessionInfo {
        let expires = Date(timeIntervalSince1970: floor(now.timeIntervalSince1970) + TimeInterval(seconds))
        let p = payload(vaultID: vaultID, salt: salt, expires: expires, kek: kek)
        do {
            _ = try KernelKeyring.addToSession(keyName(vaultID: vaultID), payload: p, permissions: permissions, seconds: seconds)
        } catch {
            throw unavailable(error)
        }
        return SessionInfo(expires: expires, keyring: KernelKeyring.sessionIsUserDefault() ? .userSession : .session)
    }

    static func unavailable(_ error: KernelKeyring.Failure) -> VaultError {
        .sessionUnavailable(reason: "the kernel keyring refused it (\(error.message))",
                            hint: error.meansUnavailable
                                ? "a container's seccomp profile (Docker's default) blocks the keyring system calls; every command will ask for the passphrase"
                                : nil)
    }

    /// Invalidates every v1vault session key this process's session keyring links (all
    /// vaults); returns how many.
    public static func lockAll() throws(VaultError) -> Int {
        let keys: [Int32]
        do { keys = try KernelKeyring.sessionKeys() } catch { throw unavailable(error) }
        var n = 0
        for k in keys {
            guard let d = try? KernelKeyring.describe(k), d.name.hasPrefix(namePrefix) else { continue }
            if (try? KernelKeyring.invalidate(k)) != nil { n += 1 }
        }
        return n
    }
}
