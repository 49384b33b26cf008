import ArgumentParser
import Foundation
import VaultCore
import VaultFormat

/// Input checks in `validate()` whose failure is a `VaultError` (a bad token name), so that
/// it is printed as every other VaultError: "error: …" with its hint, and its exit code.
///
/// ArgumentParser wraps whatever `validate()` throws in its own error (`CommandError`, internal
/// to it) and renders it itself: a `ValidationError` with usage lines and no hint, any other
/// error with exit 1. So the check keeps the VaultError here and throws only its exit code
/// (`ExitCode`, which ArgumentParser passes on with no text); `Main` prints the kept error.
/// A `--help` on the same command line still wins: ArgumentParser looks for it before it
/// reports a failed `validate()`, and `Main` prints help before looking here.
enum InputCheck {
    /// The VaultError the last failed check found (read by `Main` when parsing failed).
    nonisolated(unsafe) private(set) static var failure: VaultError?

    /// `Validate.tokenName` for each name, in order.
    static func tokenNames(_ names: [String]) throws {
        do {
            for n in names { try Validate.tokenName(n) }
        } catch {
            failure = error
            throw ExitCode(error.exitCode)
        }
    }
}
