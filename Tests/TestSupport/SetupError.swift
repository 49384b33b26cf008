import Foundation

// What both test targets need to fail a test's set-up cleanly: a thrown error that says it was
// the set-up, never a `precondition` that aborts the whole run.

/// A test's set-up failed (not the code under test): thrown, so one broken set-up fails one test
/// with its reason.
package struct SetupError: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = "test setup: " + description }
}

/// Creates (or replaces) a file with `text`, mode `mode`; a failure is a SetupError.
package func setupFile(_ path: String, _ text: String, mode: Int = 0o600) throws {
    guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: mode]) else {
        throw SetupError("cannot create \(path)")
    }
}
