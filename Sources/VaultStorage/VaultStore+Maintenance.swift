import Foundation
import GRDB
import VaultFormat

// What `doctor`, `backup` and `restore` ask of the file itself: SQLite's own checks and its
// online backup (a consistent copy while others may read).

extension VaultStore {
    /// `PRAGMA integrity_check`'s lines (`["ok"]` when sound).
    package func integrityCheck() throws(VaultError) -> [String] {
        try read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
    }

    /// How many rows `PRAGMA foreign_key_check` reports (version rows of a missing token).
    package func foreignKeyProblems() throws(VaultError) -> Int {
        try read { db in try Row.fetchAll(db, sql: "PRAGMA foreign_key_check").count }
    }

    /// The migrations the file says were applied.
    package func appliedMigrations() throws(VaultError) -> Set<String> {
        try read { db in try Self.migrator.appliedIdentifiers(db) }
    }

    /// Copies this vault, consistently, into the (empty, just created) file at `destination`.
    package func backup(into destination: String) throws {
        let target = try DatabaseQueue(path: destination, configuration: Self.configuration())
        try dbQueue.backup(to: target)
        try target.close()
    }

    /// Copies the file at `source` (opened read-only) into the empty file at `destination`.
    package static func copy(from source: String, into destination: String) throws {
        let from = try DatabaseQueue(path: source, configuration: configuration(readonly: true))
        let to = try DatabaseQueue(path: destination, configuration: configuration())
        try from.backup(to: to)
        try to.close(); try from.close()
    }

    /// Replaces this vault's contents with the file at `source`'s, in place (its inode, its
    /// permissions and anyone's open handle stay), and closes it.
    package func replaceContents(from source: String) throws {
        let restored = try DatabaseQueue(path: source, configuration: Self.configuration())
        try restored.backup(to: dbQueue)
        try restored.close()
        close()
    }
}
