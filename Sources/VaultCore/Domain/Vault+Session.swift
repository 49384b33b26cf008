import Foundation
import VaultFormat

/// `vault unlock`, `lock` and `status`, and unlocking from a session (see `Session`).
extension Vault {
    /// Unlocks with the passphrase (one KDF run), then caches the KEK in the kernel keyring of
    /// `scope` for `seconds`. Audited as a sealed `unlock` row naming the length and the keyring.
    public func startSession(passphrase: borrowing SecureBytes, seconds: UInt32, scope: SessionScope = .login) throws(VaultError) -> SessionInfo {
        let header = try unlockHeader()
        // Before the KDF: where the keyring is blocked, say so without making the user wait.
        do throws(KernelKeyring.Failure) { try KernelKeyring.checkAvailable() } catch { throw Session.unavailable(error) }
        let kek = try KDF.deriveKEK(passphrase: passphrase, salt: header.salt, parameters: header.parameters)
        guard let unlocked = try open(header, kek: kek) else {
            try? recordUnsealed(action: "unlock", details: ["session": "start"], error: VaultError.wrongPassphrase)
            throw .wrongPassphrase
        }
        let info: SessionInfo
        do throws(VaultError) {
            info = try Session.store(vaultID: header.vaultID, salt: header.salt, kek: kek, seconds: seconds, scope: scope, now: clock.now())
        } catch {
            try? unlocked.record("unlock", details: ["session": "start"], error: error)
            throw error
        }
        do throws(VaultError) {
            try unlocked.record("unlock", details: [
                "session": "start", "seconds": "\(seconds)", "until": Timestamp.iso(info.expires), "keyring": info.keyring.rawValue,
            ])
        } catch {
            // No audit row, no session.
            _ = try? lockSession(header)
            throw error
        }
        return info
    }

    /// Unlocks with this vault's session, if a live one bound to the current header exists.
    /// The returned vault marks every audit row it writes with `"session": "keyring"`. A bad
    /// key is invalidated; a sound one for another header of this vault id is left alone.
    public func unlockFromSession() throws(VaultError) -> UnlockedVault? {
        let header = try unlockHeader()
        let found: Session.Found
        do { found = try Session.find(vaultID: header.vaultID, salt: header.salt, now: clock.now()) } catch { return nil }
        // Same id and salt, but the KEK does not open this file's wrapped key: the file is not
        // the one the session was made for (or was rewritten). Not used; not removed either,
        // so that such a file cannot end the real vault's session.
        guard let unlocked = try open(header, kek: found.kek) else { return nil }
        unlocked.session = found.info
        return unlocked
    }

    /// Whether this vault is unlocked in this process's session or user keyring, and until when.
    /// Reads the header only; writes nothing but the invalidation of a bad key.
    public func sessionStatus() throws(VaultError) -> SessionStatus {
        let header = try unlockHeader()
        do {
            let found = try Session.find(vaultID: header.vaultID, salt: header.salt, now: clock.now())
            // Only the master key's unwrap proves the cached KEK is this file's.
            guard MasterKey.unwrap(nonce: header.nonce, ciphertext: header.wrapped, vaultID: header.vaultID, kek: found.kek) != nil else {
                return .stale(reason: Self.notThisFile, dropped: false)
            }
            return .unlocked(found.info)
        } catch {
            switch error {
            case .none: return .locked
            case .stale(let reason): return .stale(reason: reason, dropped: true)
            case .mismatch(_, let reason): return .stale(reason: reason, dropped: false)
            case .unavailable(let failure): return .unavailable(Session.unavailable(failure))
            }
        }
    }

    static let notThisFile = "the session's key does not open this file's wrapped key"

    /// Forgets this vault's session at once (KEYCTL_INVALIDATE), whatever state it is in, in
    /// either scope (the session keyring's and the user keyring's). Audited as `lock`, one row
    /// per key: sealed when the session opened the vault, otherwise pending with the reason it
    /// did not (`stale`). Returns false when there was none.
    @discardableResult
    public func lock() throws(VaultError) -> Bool {
        try lockSession(try unlockHeader())
    }

    func lockSession(_ header: UnlockHeader) throws(VaultError) -> Bool {
        var ended = false
        for place in Session.places() where try lockSession(header, in: place) { ended = true }
        return ended
    }

    private func lockSession(_ header: UnlockHeader, in place: Session.Place) throws(VaultError) -> Bool {
        let found: Session.Found
        do {
            found = try Session.find(in: place, vaultID: header.vaultID, salt: header.salt, now: clock.now())
        } catch {
            switch error {
            case .stale(let reason):
                try recordUnsealed(action: "lock", details: ["session": "end", "stale": reason])
                return true
            case .mismatch(let key, let reason):
                try invalidate(key)
                try recordUnsealed(action: "lock", details: ["session": "end", "stale": reason])
                return true
            case .none:
                return false
            case .unavailable(let failure):
                throw Session.unavailable(failure)
            }
        }
        try invalidate(found.key)
        if let unlocked = try open(header, kek: found.kek) {
            try unlocked.record("lock", details: ["session": "end"])
        } else {
            try recordUnsealed(action: "lock", details: ["session": "end", "stale": Self.notThisFile])
        }
        return true
    }

    private func invalidate(_ key: Int32) throws(VaultError) {
        do throws(KernelKeyring.Failure) { try KernelKeyring.invalidate(key) } catch { throw Session.unavailable(error) }
    }
}
