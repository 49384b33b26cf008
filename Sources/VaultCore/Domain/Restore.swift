import Foundation
import VaultFormat
import VaultStorage

/// What `vault restore` did.
public struct RestoreResult: Sendable {
    public var source: String
    public var target: String
    /// Where the vault it replaced was kept (nil when there was none).
    public var keptAs: String?
    public var tokens: Int
    /// The backup's own audit head (before the `restore` row).
    public var head: AuditHead?
    /// Renewal intents that were open in the backup: now verify-only.
    public var verifyOnly: [(id: Int64, plannedName: String)]
}

extension Vault {
    /// Puts a backup back in place of the vault at `target`, safely:
    ///
    /// 1. the backup is copied (SQLite's backup API: pages, no SQL of the file runs) into a new
    ///    0600 file beside the target, so the backup itself is never changed;
    /// 2. that copy is opened as any vault is (hostile-file checks, schema, migrations), unlocked
    ///    with `unlock` (the backup's passphrase), and must pass: the audit chain verifies and
    ///    every token authenticates;
    /// 3. every renewal intent open in it becomes **verify-only** (a sealed `restore` row lists
    ///    them): the backup may have been taken while that renewal ran, which may since have
    ///    finished in the vault being replaced — its new console key live and in use — so
    ///    `renew` reports what such an intent created and never disables or deletes it;
    /// 4. the current vault, if any, is kept as `<target>.replaced-<UTC time>` (never
    ///    deleted), and the copy is written over it through SQLite (so its `-wal` is handled),
    ///    under the lock `renew` and `sync` take.
    public static func restore(from source: String, to target: String, clock: Clock = .system, actor: AuditActor = .current,
                               unlock: (Vault) throws -> UnlockedVault) throws -> RestoreResult {
        let sourceURL = URL(fileURLWithPath: source).resolvingSymlinksInPath(), targetURL = URL(fileURLWithPath: target).resolvingSymlinksInPath()
        guard sourceURL.path != targetURL.path else {
            throw VaultError.invalidInput(reason: "\(source) is the vault itself", hint: "name a backup made with `vault backup`")
        }
        var st = stat()
        guard stat(source, &st) == 0 else { throw VaultError.invalidInput(reason: "cannot read \(source): \(String(cString: strerror(errno)))", hint: nil) }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw VaultError.notAVault(path: source, reason: "it is not a regular file")
        }
        try VaultStore.checkParent(of: target)
        let dir = (target as NSString).deletingLastPathComponent
        let stamp = Timestamp.iso(clock.now()).replacingOccurrences(of: ":", with: "")
        let staging = (dir.isEmpty ? "." : dir) + "/." + (target as NSString).lastPathComponent + ".restore-" + Sodium.randomBytes(4).map { String(format: "%02x", $0) }.joined()
        try createExclusive(staging)
        defer { unlink(staging); unlink(staging + "-wal"); unlink(staging + "-shm") }
        do {
            try VaultStore.copy(from: source, into: staging)
        } catch {
            throw VaultError.notAVault(path: source, reason: "cannot copy it: \(VaultStore.mapDatabaseError(error, path: source))")
        }
        // The copy, checked like any vault, then marked.
        var result: RestoreResult
        do {
            let copy = try Vault.open(at: staging, clock: clock, actor: actor)
            let unlocked = try unlock(copy)
            let chain = try unlocked.verifyAudit()
            if let problem = chain.problem { throw VaultError.stateTampered(name: source, reason: "its audit log does not verify (\(problem))") }
            let (tokens, broken) = try unlocked.linkedTokens()
            if let (name, error) = broken.first { throw VaultError.stateTampered(name: name, reason: "in the backup: \(error)") }
            // Every open intent — also one whose row was deleted (rebuilt from the audit log).
            let stored = try unlocked.intents()
            let intents = stored + (try unlocked.intentsOnlyInAudit(besides: Set(stored.map(\.id))))
            // Listed in the restore row, and their rows deleted with it: an intent without its
            // row is rebuilt from the audit log and only ever reported, so cutting the restore
            // row from the log's tail cannot make it actionable again.
            try unlocked.markRestored(from: source, intents: intents)
            result = RestoreResult(source: source, target: target, keptAs: nil, tokens: tokens.count, head: chain.head,
                                   verifyOnly: intents.map { ($0.id, $0.plannedName) })
            copy.store.close()
        }
        // Swap it in.
        if access(target, F_OK) == 0 {
            let kept = target + ".replaced-" + stamp
            // A vault that does not open (damaged, tampered — when restoring is most needed) is
            // kept by renaming it and its companions, and the checked copy renamed into place.
            let current: VaultStore
            do { current = try VaultStore.open(at: target) } catch {
                guard access(kept, F_OK) != 0 else { throw VaultError.vaultExists(path: kept) }
                let fd = Glibc.open(target, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
                if fd >= 0, flock(fd, LOCK_EX | LOCK_NB) != 0 {
                    Glibc.close(fd)
                    throw VaultError.io(reason: "another `vault renew` or `vault sync` is running on \(target)")
                }
                defer { if fd >= 0 { Glibc.close(fd) } }
                for suffix in ["", "-wal", "-shm", "-journal"] where access(target + suffix, F_OK) == 0 {
                    guard rename(target + suffix, kept + suffix) == 0 else {
                        throw VaultError.io(reason: "cannot keep \(target + suffix) as \(kept + suffix): \(String(cString: strerror(errno)))")
                    }
                }
                guard rename(staging, target) == 0 else { throw VaultError.io(reason: "cannot move the restored vault to \(target): \(String(cString: strerror(errno)))") }
                result.keptAs = kept
                return result
            }
            try createExclusive(kept)
            do {
                let lock = try current.exclusiveRunLock()
                defer { _ = lock }
                try current.backup(into: kept)
                try current.replaceContents(from: staging)
            } catch let error as VaultError {
                unlink(kept)
                throw error
            } catch {
                unlink(kept)
                throw VaultStore.mapDatabaseError(error, path: target)
            }
            result.keptAs = kept
        } else {
            guard rename(staging, target) == 0 else { throw VaultError.io(reason: "cannot move the restored vault to \(target): \(String(cString: strerror(errno)))") }
        }
        return result
    }

    static func createExclusive(_ path: String) throws(VaultError) {
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .vaultPathInvalid(path: path, reason: String(cString: strerror(errno))) }
        Glibc.close(fd)
    }
}
