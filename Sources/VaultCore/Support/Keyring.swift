import CKeyring
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import VaultFormat

/// The Linux kernel key-retention service (keyrings(7)): `user` keys whose payload lives in
/// kernel memory only, expire on a kernel timer, and are freed with kfree_sensitive. The only
/// Swift that calls CKeyring.
public enum KernelKeyring {
    /// A keyring call that failed, with errno.
    public struct Failure: Error, Equatable, Sendable {
        public let call: String
        public let errno: Int32
        public var message: String {
            let text = String(cString: strerror(errno))
            return "\(call): " + text.prefix(1).lowercased() + text.dropFirst()
        }
        /// ENOSYS (no CONFIG_KEYS), EPERM (a seccomp profile, such as Docker's default, that
        /// blocks the keyring syscalls) or EACCES (a profile that answers with that).
        public var meansUnavailable: Bool { [ENOSYS, EPERM, EACCES].contains(errno) }
    }

    static let thread: Int32 = -1      // KEY_SPEC_THREAD_KEYRING
    static let session: Int32 = -3     // KEY_SPEC_SESSION_KEYRING
    static let user: Int32 = -4        // KEY_SPEC_USER_KEYRING
    static let userSession: Int32 = -5 // KEY_SPEC_USER_SESSION_KEYRING

    /// Owner, group and permission mask of a key (KEYCTL_DESCRIBE).
    struct Description {
        var type: String
        var uid: UInt32
        var permissions: UInt32
        var name: String
    }

    /// Throws unless this process can reach a session keyring (without creating one).
    static func checkAvailable() throws(Failure) {
        try check(Int(v1v_keyring_id(session, 0)), "keyctl_get_keyring_id")
    }

    static func check(_ rc: Int, _ call: String) throws(Failure) {
        if rc < 0 { throw Failure(call: call, errno: errno) }
    }

    /// The serial of the `user` key named `name` that `ring` (a special keyring id) links
    /// directly, or nil. Never a search: KEYCTL_SEARCH would also descend into keyrings linked
    /// from it (the session keyring links the user keyring, and whatever is linked there),
    /// which belong to other sessions of the uid.
    static func find(_ name: String, in ring: Int32) throws(Failure) -> Int32? {
        for key in try keys(in: ring) {
            if let d = try? describe(key), d.type == "user", d.name == name { return key }
        }
        return nil
    }

    /// Reads a key's payload into secure memory (at most `max` bytes; longer is an error).
    static func read(_ key: Int32, max: Int) throws(Failure) -> SecureBytes {
        var buf = SecureBytes(capacity: max)
        let n = buf.withUnsafeMutableBytes { v1v_key_read(key, $0.baseAddress, $0.count) }
        try check(n, "keyctl_read")
        guard n <= max else { throw Failure(call: "keyctl_read", errno: EMSGSIZE) }
        buf.removeLast(max - n)
        return buf
    }

    static func describe(_ key: Int32) throws(Failure) -> Description {
        var buf = [UInt8](repeating: 0, count: 512)
        let n = buf.withUnsafeMutableBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { v1v_key_describe(key, $0.baseAddress, $0.count) }
        }
        try check(n, "keyctl_describe")
        let text = String(decoding: buf.prefix { $0 != 0 }, as: UTF8.self)
        // type;uid;gid;perm;description (the description may itself contain ';')
        let parts = text.split(separator: ";", maxSplits: 4, omittingEmptySubsequences: false)
        guard parts.count == 5, let uid = UInt32(parts[1]), let perm = UInt32(parts[3], radix: 16) else {
            throw Failure(call: "keyctl_describe", errno: EBADMSG)
        }
        return Description(type: String(parts[0]), uid: uid, permissions: perm, name: String(parts[4]))
    }

    /// Adds `payload` as a `user` key named `name` to `ring` (the session or the user keyring)
    /// with `permissions` and a kernel timeout of `seconds`, so that no moment exists at which
    /// the key is reachable from that keyring without its timeout and permissions: it is built
    /// in the thread keyring (which dies with this thread), then linked into `ring`, displacing
    /// an older key of the same name. Returns the new key's serial.
    static func add(_ name: String, payload: borrowing SecureBytes, permissions: UInt32, seconds: UInt32, to ring: Int32) throws(Failure) -> Int32 {
        // Resolve the keyring first: without a session keyring, the kernel makes the
        // user-session keyring this process's session keyring (KEY_SPEC_SESSION_KEYRING
        // without create).
        let target = v1v_keyring_id(ring, 0)
        try check(Int(target), "keyctl_get_keyring_id")
        let key = payload.withUnsafeBytes { v1v_key_add(name, $0.baseAddress, $0.count, thread) }
        try check(Int(key), "add_key")
        do throws(Failure) {
            try check(Int(v1v_key_set_timeout(key, seconds)), "keyctl_set_timeout")
            try check(Int(v1v_key_setperm(key, permissions)), "keyctl_setperm")
            try check(Int(v1v_key_link(key, target)), "keyctl_link")
        } catch {
            _ = v1v_key_invalidate(key)
            throw error
        }
        _ = v1v_key_unlink(key, thread)
        return key
    }

    /// Invalidates a key at once (KEYCTL_INVALIDATE): gone from every keyring, payload freed.
    static func invalidate(_ key: Int32) throws(Failure) {
        try check(Int(v1v_key_invalidate(key)), "keyctl_invalidate")
    }

    /// Which keyring this process's session keyring is: its own (a login session's, from
    /// pam_keyinit or systemd), or the per-uid default user-session keyring shared by every
    /// process of the uid that has no session keyring of its own.
    static func sessionIsUserDefault() -> Bool {
        let s = v1v_keyring_id(session, 0), u = v1v_keyring_id(userSession, 0)
        return s >= 0 && s == u
    }

    /// The serial of a special keyring (`session`, `user`, …), without creating one.
    static func serial(of ring: Int32) -> Int32? {
        let id = v1v_keyring_id(ring, 0)
        return id >= 0 ? id : nil
    }

    /// Serials of the keys `ring` (a special keyring id) links directly.
    static func keys(in ring: Int32) throws(Failure) -> [Int32] {
        var ids = [Int32](repeating: 0, count: 256)
        while true {
            let n = ids.withUnsafeMutableBytes { v1v_keyring_list(ring, $0.baseAddress!.assumingMemoryBound(to: Int32.self), $0.count) }
            try check(n, "keyctl_read")
            // KEYCTL_READ reports the whole size even when it copied less: read again, bigger.
            if n <= ids.count * 4 { return Array(ids.prefix(n / 4)) }
            ids = [Int32](repeating: 0, count: n / 4 + 64)
        }
    }

    /// Gives this thread a new, empty, anonymous session keyring (KEYCTL_JOIN_SESSION_KEYRING
    /// with no name), as `keyctl session -` does: what it execs no longer possesses the keys
    /// of the session keyring it had.
    public static func joinNewSession() throws(Failure) {
        try check(Int(v1v_join_new_session_keyring()), "keyctl_join_session_keyring")
    }
}
