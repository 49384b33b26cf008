import ArgumentParser
import Foundation
import VaultCore
import VaultFormat

/// Every exit status of `vault` but 0 and ArgumentParser's own (64 for a usage error), in the order
/// of README's "Exit codes" table: outcomes a command reports (`ExitStatus`) and v1vault's
/// errors (`VaultError.exitCode`). The numbers are the CLI's; the library targets know none.
enum ExitStatus {
    /// `expiring`: at least one token expires within the window.
    static let expiringSoon: Int32 = 10
    /// `expiring`: at least one token has expired.
    static let expired: Int32 = 11
    /// `status`: the vault is locked.
    static let locked: Int32 = 18
    /// `audit verify`: the chain is broken.
    static let auditChainBroken: Int32 = 20
    /// `doctor`: at least one check failed.
    static let doctorFoundProblems: Int32 = 21
    /// `check`, `--check`: Vision One rejected a token.
    static let tokenRejected: Int32 = 22
    /// `check`, `--check`: a check could not complete; `sync`: listing the console's keys failed.
    static let checkIncomplete: Int32 = 23
    /// `renew`: something failed.
    static let renewalFailed: Int32 = 25
    /// `renew`: nothing was due.
    static let nothingDue: Int32 = 26
    /// `sync`: something drifted.
    static let drifted: Int32 = 27
    /// `exec`: the vault's own failure, usage errors included (GNU env's 125).
    static let execVaultFailure: Int32 = 125
}

extension VaultError {
    /// The process exit status for this error (README, "Exit codes").
    var exitCode: Int32 {
        switch self {
        case .io, .database: return 1
        case .wrongPassphrase, .wrongPassphraseCarriageReturn: return 3
        case .passphraseUnavailable, .passphraseInvalid, .passphraseMismatch: return 4
        case .vaultNotFound: return 5
        case .vaultExists: return 6
        case .notAVault, .schemaTooNew, .unsafeKDFParameters, .corruptVault, .vaultPathInvalid, .schemaTampered: return 7
        case .insecurePermissions, .insecureFile, .insecureCredential: return 8
        case .tokenNotFound, .versionNotFound, .recipientNotFound: return 9
        case .tokenExists, .recipientExists: return 12
        case .invalidToken, .identicalToken, .notShapedLikeKey: return 13
        case .authenticationFailed, .metadataTampered, .metadataUnsealed, .stateTampered, .stateUnsealed, .shareTampered: return 14
        case .tokenExpired: return 15
        case .cancelled: return 16
        case .auditWriteFailed: return 17
        case .sessionUnavailable: return 19
        case .tokenRejected: return ExitStatus.tokenRejected
        case .checkIncomplete, .consoleFailed: return ExitStatus.checkIncomplete
        case .keysChanged: return 24
        case .noManager: return 28
        case .clipboardUnavailable: return 29
        case .dropUnreadable: return 30
        case .dropNotForThisVault: return 31
        case .dropUnverified: return 32
        case .dropUntrusted: return 33
        case .dropReplayed: return 34
        case .dropConflict: return 35
        case .invalidName, .invalidInput: return 64
        case .commandNotExecutable: return 126
        case .commandNotFound: return 127
        }
    }
}
