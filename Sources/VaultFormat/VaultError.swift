import Foundation

/// The one error type of v1vault. Every case has a one-line message (lowercase, no trailing
/// period, never any secret material), an optional hint, and a documented exit code.
public enum VaultError: Error, Equatable, Sendable {
    // Vault file and format
    case vaultNotFound(path: String)
    case vaultExists(path: String)
    case notAVault(path: String, reason: String)
    case schemaTooNew(path: String, found: String)
    case insecurePermissions(path: String, mode: UInt16)
    /// The vault's directory or a `-wal`/`-shm`/`-journal` companion is open to another user.
    case insecureFile(path: String, reason: String, hint: String?)
    /// The systemd credential `$CREDENTIALS_DIRECTORY/v1vault-passphrase` is not read-only and
    /// private: systemd makes credentials 0400 (0440 where its ACL for the unit's user shows as
    /// the group bits), so anything else was not made by systemd or was changed since.
    case insecureCredential(path: String, mode: UInt16)
    /// `sqlite_master` lists something the migrations do not create (a view, a trigger, a
    /// changed or missing table or index).
    case schemaTampered(differences: [String])
    case vaultPathInvalid(path: String, reason: String)
    case unsafeKDFParameters(reason: String)
    case corruptVault(reason: String)

    // Passphrase
    case wrongPassphrase
    /// A wrong passphrase read from a file or descriptor that ends in CR (after the one LF
    /// stripped): most likely a Windows line ending.
    case wrongPassphraseCarriageReturn
    case passphraseUnavailable(reason: String, hint: String?)
    case passphraseInvalid(reason: String)
    case passphraseMismatch
    /// `vault unlock`/`lock`/`status`: the kernel keyring cannot hold a session here.
    case sessionUnavailable(reason: String, hint: String?)

    // Tokens and input
    case invalidName(String, reason: String)
    case invalidInput(reason: String, hint: String?)
    case invalidToken(reason: String)
    /// Off a terminal, without --force: the value is not shaped like a Vision One key.
    case notShapedLikeKey
    case tokenNotFound(name: String)
    case versionNotFound(name: String, version: Int)
    case tokenExists(name: String)
    case identicalToken(name: String)
    case tokenExpired(name: String, version: Int, expired: Date)
    case authenticationFailed(name: String, version: Int)
    case metadataTampered(name: String)
    case metadataUnsealed(name: String)
    /// The token's version bookkeeping (current version, expiry, retirement) does not match
    /// its state MAC, or the state is older than the audit log says.
    case stateTampered(name: String, reason: String)
    case stateUnsealed(name: String)

    // Process
    case cancelled(reason: String)
    case auditWriteFailed(reason: String)
    /// `passwd`, `kdf set` or `rekey` committed in another process after this one unlocked.
    case keysChanged
    case io(reason: String)
    case database(reason: String)

    // Vision One connectivity
    case tokenRejected(name: String, outcome: String, status: Int?, code: String?)
    case checkIncomplete(name: String, outcome: String, detail: String?)
    /// No token is marked as the manager key (`vault manager set`) for this base URL.
    case noManager(baseURL: String)
    /// A Vision One API-keys call failed (code and trace id only).
    case consoleFailed(detail: String)

    /// `vault copy`: no way to reach a clipboard here (`forced`: the method asked for with --via).
    case clipboardUnavailable(reason: String, forced: String?)

    // Sharing (schema 6)
    case recipientNotFound(name: String)
    case recipientExists(name: String, reason: String)
    /// A schema-6 row (identity, recipient, follow, received mark) failed authentication.
    case shareTampered(reason: String)
    /// `receive`: not a usable age file (garbage, truncated, tampered, too large) or not a
    /// well-formed transfer document inside.
    case dropUnreadable(file: String, reason: String)
    /// `receive`: no stanza opens with this vault's identity, or the document does not name it.
    case dropNotForThisVault(file: String, reason: String)
    /// `receive`: the signature does not verify, or no recipient has the signing key.
    case dropUnverified(file: String, reason: String)
    /// `receive`: signed by a known recipient who is not trusted.
    case dropUntrusted(file: String, sender: String)
    /// `receive`: an older version than held (a replay), or the same version with another value.
    case dropReplayed(file: String, token: String, reason: String)
    /// `receive`: a key of that name exists here and was not received from that sender.
    case dropConflict(file: String, token: String, reason: String)

    // exec (GNU env's conventions)
    case commandNotFound(command: String)
    case commandNotExecutable(command: String, reason: String)

    /// A second line telling the user what to do, when there is something useful to say.
    public var hint: String? {
        switch self {
        case .schemaTooNew:
            return "this vault was written by a newer v1vault; upgrade the binary"
        case .insecurePermissions(let path, _):
            return "chmod 600 \(shellQuoted(path))"
        case .insecureCredential(let path, _):
            return "chmod 400 \(shellQuoted(path)), or let systemd provide it (LoadCredential=, LoadCredentialEncrypted=)"
        case .wrongPassphrase:
            return nil
        case .wrongPassphraseCarriageReturn:
            return "the passphrase ends in a carriage return (a Windows line ending: only the final newline is stripped); remove it, e.g. sed -i 's/\\r$//' FILE"
        case .passphraseUnavailable(_, let hint), .invalidInput(_, let hint), .insecureFile(_, _, let hint),
             .sessionUnavailable(_, let hint):
            return hint
        case .invalidName:
            return "names are 1-64 characters: a letter or digit, then letters, digits, '.', '_' or '-'"
        case .identicalToken:
            return "paste the new key created in the Vision One console (Administration > API Keys)"
        case .authenticationFailed, .metadataTampered, .stateTampered:
            return "the vault file was modified or is corrupt; restore from a backup"
        case .auditWriteFailed:
            return "no audit, no access: the secret was not released"
        case .keysChanged:
            return "run the command again"
        case .shareTampered:
            return "the vault file was modified or is corrupt; restore from a backup"
        default:
            return nil
        }
    }
}

extension VaultError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .vaultNotFound(let path): return "no vault at \(path)"
        case .vaultExists(let path): return "a vault already exists at \(path)"
        case .notAVault(let path, let reason): return "\(path) is not a v1vault vault: \(reason)"
        case .schemaTooNew(let path, let found):
            return "\(path) has schema \(found), newer than this binary understands"
        case .insecurePermissions(let path, let mode):
            return "\(path) is accessible by other users (mode \(String(mode, radix: 8)))"
        case .vaultPathInvalid(let path, let reason): return "cannot use vault path \(path): \(reason)"
        case .insecureFile(_, let reason, _): return "refusing an unsafe vault location: \(reason)"
        case .insecureCredential(let path, let mode):
            return "systemd credential \(path) has mode \(String(mode, radix: 8)): credentials are read-only and private (0400, or 0440 with systemd's ACL)"
        case .schemaTampered(let differences):
            let shown = differences.prefix(3).joined(separator: "; ") + (differences.count > 3 ? "; and \(differences.count - 3) more" : "")
            return "vault schema differs from what v1vault creates: \(shown)"
        case .unsafeKDFParameters(let reason): return "vault header has unsafe KDF parameters: \(reason)"
        case .corruptVault(let reason): return "vault is corrupt: \(reason)"
        case .wrongPassphrase, .wrongPassphraseCarriageReturn: return "wrong passphrase"
        case .passphraseUnavailable(let reason, _): return "no passphrase: \(reason)"
        case .passphraseInvalid(let reason): return "invalid passphrase: \(reason)"
        case .passphraseMismatch: return "the passphrases do not match"
        case .sessionUnavailable(let reason, _): return "cannot keep an unlocked session: \(reason)"
        case .invalidName(let name, let reason): return "invalid name \(displayName(name)): \(reason)"
        case .invalidInput(let reason, _): return reason
        case .invalidToken(let reason): return "invalid token: \(reason)"
        case .notShapedLikeKey:
            return "this is not shaped like a Vision One API key (a JWT: three base64url parts joined by dots, the first starting eyJ)"
        case .tokenNotFound(let name): return "no token named \(displayName(name))"
        case .versionNotFound(let name, let version): return "token \(name) has no version \(version)"
        case .tokenExists(let name): return "a token named \(name) already exists"
        case .identicalToken(let name): return "the new token is identical to the current version of \(name)"
        case .tokenExpired(let name, let version, let expired):
            return "token \(name) version \(version) expired on \(Timestamp.iso(expired))"
        case .authenticationFailed(let name, let version):
            return "token \(name) version \(version) failed authentication"
        case .metadataUnsealed(let name):
            return "token \(displayName(name)) has no metadata MAC (written before schema 2, or the MAC was removed)"
        case .metadataTampered(let name):
            return "token \(displayName(name)) metadata failed authentication: its name, region or base URL was changed outside v1vault"
        case .stateUnsealed(let name):
            return "token \(displayName(name)) has no version-state MAC (written before schema 3, or the MAC was removed)"
        case .stateTampered(let name, let reason):
            return "token \(displayName(name)) version state failed authentication: \(reason)"
        case .cancelled(let reason): return "cancelled: \(reason)"
        case .auditWriteFailed(let reason): return "could not write the audit log: \(reason)"
        case .keysChanged: return "the vault's keys changed while this command ran (passwd, kdf set or rekey in another process); nothing was written"
        case .io(let reason): return reason
        case .database(let reason): return "database error: \(reason)"
        case .tokenRejected(let name, let outcome, let status, let code):
            return "Vision One rejected the token for \(name): \(outcome)" + (status.map { " (HTTP \($0)" + (code.map { ", \($0)" } ?? "") + ")" } ?? "")
        case .checkIncomplete(let name, let outcome, let detail):
            return "could not verify the token for \(name) with Vision One: \(outcome)" + (detail.map { " (\($0))" } ?? "")
        case .noManager(let url): return "no manager key for \(url)"
        case .clipboardUnavailable(let reason, let forced):
            return (forced.map { "cannot copy with \($0)" } ?? "no clipboard to copy to") + ": \(reason); nothing was copied"
        case .consoleFailed(let detail): return "vision one api keys call failed: \(detail)"
        case .recipientNotFound(let name): return "no recipient named \(displayName(name))"
        case .recipientExists(let name, let reason): return "recipient \(displayName(name)) \(reason)"
        case .shareTampered(let reason): return "sharing data failed authentication: \(reason)"
        case .dropUnreadable(let file, let reason): return "\(displayName(file)): not a readable drop: \(reason); nothing was changed"
        case .dropNotForThisVault(let file, let reason): return "\(displayName(file)): not addressed to this vault: \(reason); nothing was changed"
        case .dropUnverified(let file, let reason): return "\(displayName(file)): \(reason); nothing was changed"
        case .dropUntrusted(let file, let sender): return "\(displayName(file)): signed by recipient \(displayName(sender)), who is not trusted; nothing was changed"
        case .dropReplayed(let file, let token, let reason): return "\(displayName(file)): \(displayName(token)): \(reason); nothing was changed"
        case .dropConflict(let file, let token, let reason): return "\(displayName(file)): \(displayName(token)): \(reason); nothing was changed"
        case .commandNotFound(let c): return "command not found: \(displayName(c))"
        case .commandNotExecutable(let c, let reason): return "cannot execute \(displayName(c)): \(reason)"
        }
    }
}

/// Quotes a path for a copy-pasteable shell hint (the one quoting rule: `Shell.quote`).
package func shellQuoted(_ s: String) -> String { Shell.quote(s) }

/// Renders user-supplied text for an error message: control characters escaped, length capped,
/// so a hostile argument cannot forge extra lines or flood the terminal.
package func displayName(_ s: String) -> String {
    var out = ""
    for scalar in s.unicodeScalars.prefix(80) {
        if scalar.value < 0x20 || scalar.value == 0x7f { out += String(format: "\\x%02x", scalar.value) }
        else if Sanitize.isUnsafe(scalar) { out += Sanitize.display(String(scalar)) }
        else { out.unicodeScalars.append(scalar) }
    }
    if s.unicodeScalars.count > 80 { out += "…" }
    return "\"" + out + "\""
}
