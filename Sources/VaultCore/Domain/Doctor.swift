import Foundation
import GRDB
#if canImport(Glibc)
import Glibc
#endif

/// One finding of `vault doctor`.
public struct DoctorCheck: Codable, Sendable, Equatable {
    public var check: String
    public var ok: Bool
    public var detail: String
}

/// Health checks over a vault file: permissions, SQLite integrity, schema, header, row
/// consistency, and — when unlocked — every sealed version and the audit chain.
public enum Doctor {
    /// Checks that need no passphrase.
    public static func offline(_ vault: Vault) -> [DoctorCheck] {
        var out: [DoctorCheck] = []
        let path = vault.path
        func add(_ check: String, _ ok: Bool, _ detail: String) { out.append(DoctorCheck(check: check, ok: ok, detail: detail)) }

        for suffix in ["", "-wal", "-shm"] {
            var st = stat()
            guard stat(path + suffix, &st) == 0 else { continue }
            let mode = st.st_mode & 0o777
            add("permissions", mode & 0o077 == 0, "\(path)\(suffix) mode \(String(mode, radix: 8))" + (mode & 0o077 == 0 ? "" : " (want 600)"))
        }
        let dir = (path as NSString).deletingLastPathComponent
        var dst = stat()
        if stat(dir.isEmpty ? "." : dir, &dst) == 0 {
            let mode = dst.st_mode & 0o7777
            let writableByOthers = mode & 0o022 != 0 && mode & 0o1000 == 0
            add("directory", !writableByOthers, "\(dir.isEmpty ? "." : dir) mode \(String(mode & 0o777, radix: 8))"
                + (writableByOthers ? " is writable by other users, who could replace the vault (want 700)" : ""))
        }
        do {
            let results = try vault.store.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
            add("integrity", results == ["ok"], results == ["ok"] ? "PRAGMA integrity_check: ok" : "PRAGMA integrity_check: " + results.prefix(5).joined(separator: "; "))
            let fk = try vault.store.read { db in try Row.fetchAll(db, sql: "PRAGMA foreign_key_check") }
            add("foreign keys", fk.isEmpty, fk.isEmpty ? "no orphaned version rows" : "\(fk.count) version rows reference a missing token")
            let applied = try vault.store.read { db in try VaultStore.migrator.appliedIdentifiers(db) }
            let expected = Set(EmbeddedMigrations.all.map(\.name))
            add("schema", applied == expected, "schema \(VaultStore.schemaVersion)" + (applied == expected ? "" : " (applied: \(applied.sorted().joined(separator: ", ")))"))
            let header = try vault.store.read { db in try VaultHeaderRecord.fetch(db) }
            if let header, let params = header.kdfParameters {
                do throws(VaultError) {
                    try params.validate()
                    add("kdf", true, "argon2id13, memory \(ByteSize.format(params.memLimit)), ops \(params.opsLimit)"
                        + (params.isBelowInteractive ? " (below INTERACTIVE: weak against offline guessing)" : ""))
                } catch {
                    add("kdf", false, error.description)
                }
            } else {
                add("kdf", false, "vault header missing or unreadable")
            }
            let noCurrent = try vault.store.read { db in
                try String.fetchAll(db, sql: """
                    SELECT name FROM tokens t WHERE NOT EXISTS
                      (SELECT 1 FROM token_versions v WHERE v.token_id = t.id AND v.retired_at IS NULL) ORDER BY name
                    """)
            }
            add("current versions", noCurrent.isEmpty, noCurrent.isEmpty ? "every token has one current version"
                : "tokens without a current version: " + noCurrent.joined(separator: ", "))
        } catch {
            add("database", false, error.description)
        }
        return out
    }

    /// Checks that need the master key: every version opens, and the audit chain verifies.
    public static func unlocked(_ u: UnlockedVault, expectHead: AuditHead? = nil) -> [DoctorCheck] {
        var out: [DoctorCheck] = []
        do {
            let failures = try u.vault.store.read { db -> ([String], Int) in
                var bad: [String] = []
                var count = 0
                // One cursor and one reused secure buffer, however many versions (as decryptAll).
                var scratch = SecureBytes(capacity: 4096, empty: true)
                let rows = try Row.fetchCursor(db, sql: "SELECT t.name, v.* FROM token_versions v JOIN tokens t ON t.id = v.token_id ORDER BY t.name, v.version")
                while let row = try rows.next() {
                    count += 1
                    let v = try TokenVersionRecord(row: row)
                    let name: String = try row.decode(forColumn: "name")
                    do throws(VaultError) { _ = try u.open(v, name: name, into: &scratch); scratch.reset() } catch { bad.append(error.description) }
                }
                return (bad, count)
            }
            let tampered = try u.vault.store.read { db in
                try TokenRecord.order(TokenRecord.Columns.name).fetchAll(db).compactMap { t -> String? in
                    do throws(VaultError) { try u.checkMetadata(t); return nil } catch { return error.description }
                }
            }
            for t in tampered { out.append(DoctorCheck(check: "metadata", ok: false, detail: t)) }
            if tampered.isEmpty { out.append(DoctorCheck(check: "metadata", ok: true, detail: "every token's name, region and base URL authenticate")) }
            if failures.0.isEmpty {
                out.append(DoctorCheck(check: "secrets", ok: true, detail: "all \(failures.1) stored versions decrypt and authenticate"))
            } else {
                for f in failures.0 { out.append(DoctorCheck(check: "secrets", ok: false, detail: f)) }
            }
            let chain = try u.vault.store.read { db in try AuditChain.verify(db, key: u.auditKey, expectHead: expectHead) }
            out.append(DoctorCheck(check: "audit chain", ok: chain.intact,
                                   detail: chain.problem.map { "\($0)" } ?? "intact: \(chain.sealedRows) sealed rows, \(chain.pendingRows) pending"))
        } catch {
            out.append(DoctorCheck(check: "database", ok: false, detail: "\(error)"))
        }
        return out
    }
}

extension Vault {
    /// Copies the vault with SQLite's online backup API into a new 0600 file (O_EXCL): a
    /// consistent snapshot even while other processes write. The backup row is recorded first,
    /// so the copy contains it.
    public func backup(to destination: String) throws(VaultError) {
        try VaultStore.checkParent(of: destination)
        let fd = Glibc.open(destination, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST {
                throw .invalidInput(reason: "\(destination) already exists; it was not touched", hint: "choose a new file name for the backup")
            }
            throw .vaultPathInvalid(path: destination, reason: String(cString: strerror(errno)))
        }
        Glibc.close(fd)
        do throws(VaultError) {
            try recordUnsealed(action: "backup", details: ["destination": destination])
            do {
                let target = try DatabaseQueue(path: destination, configuration: VaultStore.configuration())
                try store.dbQueue.backup(to: target)
                try target.close()
            } catch {
                throw VaultStore.mapDatabaseError(error, path: destination)
            }
        } catch {
            unlink(destination); unlink(destination + "-wal"); unlink(destination + "-shm")
            try? recordUnsealed(action: "backup", details: ["destination": destination], error: error)
            throw error
        }
    }
}
