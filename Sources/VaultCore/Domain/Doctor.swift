import Foundation
#if canImport(Glibc)
import Glibc
#endif
import VaultFormat
import VaultStorage

/// One finding of `vault doctor`.
public struct DoctorCheck: Codable, Sendable, Equatable {
    public var check: String
    public var ok: Bool
    public var detail: String
}

/// Health checks over a vault file: permissions, SQLite integrity, schema, header, row
/// consistency, and — when unlocked — every sealed version and the audit chain.
public enum Doctor {
    /// The findings behind a refusal to open the vault at all (an unsafe location, a planted
    /// schema object), one per problem, so `doctor` can name them; nil for other errors.
    /// A failed check with this text.
    public static func failure(_ check: String, _ detail: String) -> DoctorCheck { DoctorCheck(check: check, ok: false, detail: detail) }

    public static func refusedOpen(_ error: VaultError) -> [DoctorCheck]? {
        switch error {
        case .schemaTampered(let differences):
            return differences.map { DoctorCheck(check: "schema", ok: false, detail: $0 + " (refused: nothing in the file is used)") }
        case .insecureFile, .insecurePermissions:
            return [DoctorCheck(check: "directory", ok: false, detail: error.description)]
        default:
            return nil
        }
    }

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
        do throws(VaultError) {
            try VaultStore.checkDirectory(dir.isEmpty ? "." : dir)
            try VaultStore.checkCompanions(of: path)
            add("directory", true, "\(dir.isEmpty ? "." : dir) is writable only by its owner; no foreign -wal/-shm/-journal")
        } catch {
            add("directory", false, error.description)
        }
        do {
            let results = try vault.store.integrityCheck()
            add("integrity", results == ["ok"], results == ["ok"] ? "PRAGMA integrity_check: ok" : "PRAGMA integrity_check: " + results.prefix(5).joined(separator: "; "))
            let fk = try vault.store.foreignKeyProblems()
            add("foreign keys", fk == 0, fk == 0 ? "no orphaned version rows" : "\(fk) version rows reference a missing token")
            let applied = try vault.store.appliedMigrations()
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
            let notOne = try vault.store.read { db in
                try TokenRecord.withoutOneCurrentVersion(db).map { "\(Sanitize.display($0.name)) (\($0.current))" }
            }
            add("current versions", notOne.isEmpty, notOne.isEmpty ? "every token has exactly one current version"
                : "tokens without exactly one current version: " + notOne.joined(separator: ", "))
        } catch {
            add("database", false, error.description)
        }
        return out
    }

    /// Checks that need the master key: every version opens, and the audit chain verifies.
    public static func unlocked(_ u: UnlockedVault, expectHead: AuditHead? = nil) -> [DoctorCheck] {
        var out: [DoctorCheck] = []
        do {
            // Per token: the resolver's checks (metadata MAC, state MAC, freshness), then every
            // kept version opened bound to the token's id and that version, through one reused
            // secure buffer however many versions.
            let (problems, tokens, opened, chain) = try u.vault.store.read { db -> ([DoctorCheck], Int, Int, AuditVerification) in
                var problems: [DoctorCheck] = []
                var opened = 0
                var scratch = SecureBytes(capacity: 4096, empty: true)
                let names = try TokenRecord.allNames(db)
                // One walk of the whole chain serves every token's freshness check; if it is
                // broken, each token walks its own tail and reports where it breaks.
                let chain = try AuditChain.verify(db, key: u.auditKey, epochs: try u.auditEpochs(db), expectHead: expectHead)
                for name in names {
                    let t: UnlockedVault.ResolvedToken
                    do {
                        t = try u.resolve(db, name, changes: chain.intact ? chain.changes : nil)
                    } catch {
                        let e = VaultStore.mapDatabaseError(error)
                        let check = switch e { case .metadataTampered, .metadataUnsealed: "metadata"; default: "version state" }
                        problems.append(DoctorCheck(check: check, ok: false, detail: e.description))
                        continue
                    }
                    for v in try VersionState.all(tokenID: t.record.id!, db) {
                        guard let row = try TokenVersionRecord.version(v.version, tokenID: t.record.id!, db) else { continue }
                        do throws(VaultError) {
                            _ = try u.open(row, tokenID: t.record.id!, version: v.version, name: name, into: &scratch)
                            scratch.reset()
                            opened += 1
                        } catch {
                            problems.append(DoctorCheck(check: "secrets", ok: false, detail: error.description))
                        }
                    }
                }
                return (problems, names.count, opened, chain)
            }
            out += problems
            if problems.isEmpty {
                out.append(DoctorCheck(check: "metadata", ok: true, detail: "every token's name, region and base URL authenticate"))
                out.append(DoctorCheck(check: "version state", ok: true, detail: "every token's current version and expiries authenticate and match the audit log"))
                out.append(DoctorCheck(check: "secrets", ok: true, detail: "all \(opened) stored versions of \(tokens) tokens decrypt and authenticate"))
            }
            out.append(DoctorCheck(check: "audit chain", ok: chain.intact,
                                   detail: chain.problem.map { "\($0)" } ?? "intact: \(chain.sealedRows) sealed rows, \(chain.pendingRows) pending"))
            // Sharing (schema 6): the identity opens, every recipient, follow and received mark authenticates.
            out.append(u.sharingCheck())
            // Renewal intents (schema 5): listed only when there are any.
            let intents = try u.intents()
            let forged = intents.filter { !$0.authentic }.map { "\($0.id)" }
            if !forged.isEmpty {
                out.append(DoctorCheck(check: "renewal intents", ok: false,
                                       detail: "intent \(forged.joined(separator: ", ")) fails authentication: never acted on; `vault renew --forget-intent ID` resolves it (audited)"))
            } else if !intents.isEmpty {
                out.append(DoctorCheck(check: "renewal intents", ok: true,
                                       detail: "\(intents.map { "\($0.id) (\($0.plannedName))" }.joined(separator: ", ")) left by an interrupted `vault renew`: its next run removes any console key they created, given a manager key for their base URL; `vault renew --forget-intent ID` gives up on one"))
            }
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
                try store.backup(into: destination)
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
