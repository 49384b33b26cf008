import Foundation
import GRDB
#if canImport(Glibc)
import Glibc
#endif
import VaultFormat

/// What a use case holds inside `VaultStore.read`/`write`: GRDB's connection under a storage
/// name. Outside VaultStorage none of its own members are visible (the targets above do not
/// import GRDB — `MemberImportVisibility`, and scripts/check-architecture), so the use cases
/// reach the file only through the named functions of this target (Records*.swift).
package typealias StoreTransaction = Database

/// The SQLite file behind a vault: opening with safety checks, migrations, and transactions.
///
/// Every write runs in one `BEGIN IMMEDIATE` transaction with a busy timeout, so concurrent
/// `vault` processes queue instead of failing. `secure_delete` is on for every connection.
public final class VaultStore: Sendable {
    /// The latest schema this binary understands (the last embedded migration).
    public static var schemaVersion: String { EmbeddedMigrations.all.last!.name }
    package static let busyTimeout: TimeInterval = 30

    public let path: String
    package let dbQueue: DatabaseQueue
    /// `PRAGMA schema_version` when the schema was last verified. Every transaction compares
    /// it first and verifies the schema again if another process changed it in between.
    package let verifiedSchemaCookie: Int
    /// Migrations this process applied when it opened the file (empty for an up-to-date vault).
    public let migrationsApplied: [String]

    private init(path: String, dbQueue: DatabaseQueue, verifiedSchemaCookie: Int, migrationsApplied: [String] = []) {
        self.path = path
        self.dbQueue = dbQueue
        self.verifiedSchemaCookie = verifiedSchemaCookie
        self.migrationsApplied = migrationsApplied
    }

    package static func configuration(readonly: Bool = false) -> Configuration {
        var config = Configuration()
        config.busyMode = .timeout(busyTimeout)
        config.readonly = readonly
        config.prepareDatabase { db in
            // Per connection, so set on every open (SQLite's default is build-dependent).
            // trusted_schema = OFF: defence in depth behind Schema.verify — SQL functions with
            // side effects never run from a view or trigger found in the file.
            try db.execute(sql: "PRAGMA secure_delete = ON; PRAGMA synchronous = FULL; PRAGMA trusted_schema = OFF")
        }
        return config
    }

    package static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        for (name, sql) in EmbeddedMigrations.all {
            m.registerMigration(name) { db in try db.execute(sql: sql) }
        }
        return m
    }

    // MARK: - Create and open

    /// Creates a new, empty vault file (0600) at `path`; the parent directory must exist.
    /// Refuses to touch an existing file.
    package static func create(at path: String) throws(VaultError) -> VaultStore {
        try checkParent(of: path)
        // O_EXCL: never overwrite, even if a file appears between our check and the create.
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            let e = errno
            if e == EEXIST { throw .vaultExists(path: path) }
            throw .vaultPathInvalid(path: path, reason: String(cString: strerror(e)))
        }
        Glibc.close(fd)
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration())
            try queue.writeWithoutTransaction { db in
                _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
            }
            try migrator.migrate(queue)
            let cookie = try queue.read { db in try Int.fetchOne(db, sql: "PRAGMA schema_version") ?? 0 }
            return VaultStore(path: path, dbQueue: queue, verifiedSchemaCookie: cookie)
        } catch {
            unlink(path); unlink(path + "-wal"); unlink(path + "-shm")
            throw mapDatabaseError(error)
        }
    }

    /// Opens an existing vault after checking that it is a private regular file in a private
    /// directory with no foreign `-wal`/`-shm`/`-journal` companions, a SQLite database, and a
    /// v1vault vault whose schema is exactly what the migrations create. Applies pending migrations.
    package static func open(at path: String, readonly: Bool = false) throws(VaultError) -> VaultStore {
        try checkExistingFile(path)
        let queue: DatabaseQueue
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration(readonly: readonly))
        } catch {
            throw mapDatabaseError(error, path: path)
        }
        do {
            // One read transaction: the schema (before any table is queried) and the header.
            let (applied, formats, cookie) = try queue.read { db -> (Int, [Int], Int) in
                let applied = try Schema.verify(db, path: path)
                return (applied, try Int.fetchAll(db, sql: "SELECT format_version FROM vault_header"),
                        try Int.fetchOne(db, sql: "PRAGMA schema_version") ?? 0)
            }
            guard formats.count == 1 else { throw VaultError.notAVault(path: path, reason: "vault header is missing") }
            guard formats[0] == VaultHeaderRecord.formatVersion else {
                throw VaultError.corruptVault(reason: "unknown header format version \(formats[0])")
            }
            guard applied < EmbeddedMigrations.all.count else {
                return VaultStore(path: path, dbQueue: queue, verifiedSchemaCookie: cookie)
            }
            if readonly { throw VaultError.io(reason: "vault needs a schema upgrade; run any write command first") }
            // Upgrade and verify again in the same exclusive transaction, so the migrations run
            // on the schema just verified and the result is checked before it is used.
            let pending = EmbeddedMigrations.all.dropFirst(applied).map(\.name)
            let newCookie = try queue.writeWithoutTransaction { db -> Int in
                var cookie = 0
                try db.inTransaction(.exclusive) {
                    let again = try Schema.verify(db, path: path)
                    for (name, sql) in EmbeddedMigrations.all.dropFirst(again) {
                        try db.execute(sql: sql)
                        try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES (?)", arguments: [name])
                    }
                    _ = try Schema.verify(db, path: path)
                    cookie = try Int.fetchOne(db, sql: "PRAGMA schema_version") ?? 0
                    return .commit
                }
                return cookie
            }
            return VaultStore(path: path, dbQueue: queue, verifiedSchemaCookie: newCookie, migrationsApplied: pending)
        } catch let e as VaultError {
            throw e
        } catch {
            throw mapDatabaseError(error, path: path)
        }
    }

    /// Verifies the schema again if another connection changed it since it was verified (a
    /// cheap cookie comparison on every transaction; the full check only when it moved).
    package func checkSchema(_ db: Database) throws {
        let cookie = try Int.fetchOne(db, sql: "PRAGMA schema_version") ?? 0
        guard cookie != verifiedSchemaCookie else { return }
        let applied = try Schema.verify(db, path: path)
        guard applied == EmbeddedMigrations.all.count else {
            throw VaultError.schemaTampered(differences: ["the schema changed while the vault was open"])
        }
    }

    // MARK: - File checks

    /// Throws unless a new vault file can be created at `path` (checked before prompting).
    public static func checkCreatable(_ path: String) throws(VaultError) { try checkParent(of: path) }

    package static func checkParent(of path: String) throws(VaultError) {
        let parent = (path as NSString).deletingLastPathComponent
        var st = stat()
        guard stat(parent.isEmpty ? "." : parent, &st) == 0 else {
            throw .vaultPathInvalid(path: path, reason: "directory \(parent) does not exist")
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            throw .vaultPathInvalid(path: path, reason: "\(parent) is not a directory")
        }
        try checkDirectory(parent.isEmpty ? "." : parent)
        guard access(parent.isEmpty ? "." : parent, W_OK | X_OK) == 0 else {
            throw .vaultPathInvalid(path: path, reason: "directory \(parent) is not writable")
        }
        try checkCompanions(of: path)
    }

    /// The files SQLite opens next to a database if they exist. Someone who can create them
    /// before we do receives (and can rewrite) every page written to the vault.
    package static let companionSuffixes = ["-wal", "-shm", "-journal"]

    /// Throws unless `dir` is a directory only its owner — this user or root — can write to.
    /// A sticky world-writable directory such as /tmp is refused too: others cannot delete the
    /// vault there, but they can create its `-wal` and `-shm` before v1vault does.
    package static func checkDirectory(_ dir: String) throws(VaultError) {
        var st = stat()
        guard stat(dir, &st) == 0 else { throw .vaultPathInvalid(path: dir, reason: String(cString: strerror(errno))) }
        if st.st_uid != geteuid() && st.st_uid != 0 {
            throw .insecureFile(path: dir, reason: "directory \(dir) belongs to uid \(st.st_uid), who could replace the vault or its -wal file",
                                hint: "keep the vault in a directory you own (mkdir -m 700 ~/.local/share/v1vault)")
        }
        if st.st_mode & 0o022 != 0 {
            let mode = String(st.st_mode & 0o7777, radix: 8)
            throw .insecureFile(path: dir, reason: "directory \(dir) (mode \(mode)) is writable by other users, who could plant the vault's -wal file",
                                hint: "chmod go-w \(shellQuoted(dir)), or keep the vault in a private directory")
        }
    }

    /// Throws if a `-wal`, `-shm` or `-journal` next to `path` is not a private regular file
    /// of this user with one link: SQLite would open it as it is.
    package static func checkCompanions(of path: String) throws(VaultError) {
        for suffix in companionSuffixes {
            let file = path + suffix
            var st = stat()
            guard lstat(file, &st) == 0 else { continue }
            let kind = st.st_mode & S_IFMT
            var problem: String?
            if kind != S_IFREG { problem = kind == S_IFLNK ? "is a symbolic link" : "is not a regular file" }
            else if st.st_uid != geteuid() { problem = "belongs to uid \(st.st_uid)" }
            else if st.st_mode & 0o077 != 0 { problem = "has mode \(String(st.st_mode & 0o777, radix: 8))" }
            else if st.st_nlink != 1 { problem = "has \(st.st_nlink) hard links" }
            if let problem {
                throw .insecureFile(path: file, reason: "\(file) \(problem): another user could read or rewrite the vault through it",
                                    hint: "make sure no vault process is running, then inspect and remove \(shellQuoted(file))")
            }
        }
    }

    package static func checkExistingFile(_ path: String) throws(VaultError) {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            // No file — whether or not its directory exists yet (a first run before `init`
            // has neither): there is no vault here (exit 5, with the `init` hint).
            if errno == ENOENT { throw .vaultNotFound(path: path) }
            throw .vaultPathInvalid(path: path, reason: String(cString: strerror(errno)))
        }
        var real = path
        if (st.st_mode & S_IFMT) == S_IFLNK {
            // Follow one level for users who symlink their vault, but check the target too.
            guard stat(path, &st) == 0, let resolved = realpath(path, nil) else {
                throw .vaultPathInvalid(path: path, reason: "dangling symbolic link")
            }
            real = String(cString: resolved)
            free(resolved)
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw .vaultPathInvalid(path: path, reason: (st.st_mode & S_IFMT) == S_IFDIR ? "it is a directory" : "not a regular file")
        }
        let mode = UInt16(st.st_mode & 0o777)
        guard mode & 0o077 == 0 else { throw .insecurePermissions(path: path, mode: mode) }
        guard st.st_uid == geteuid() || geteuid() == 0 else {
            throw .insecureFile(path: path, reason: "\(path) belongs to uid \(st.st_uid), not to you", hint: nil)
        }
        // SQLite puts its companions next to the resolved file: check both places.
        for p in Set([path, real]) {
            let dir = (p as NSString).deletingLastPathComponent
            try checkDirectory(dir.isEmpty ? "." : dir)
            try checkCompanions(of: p)
        }
        guard access(path, R_OK) == 0 else {
            throw .vaultPathInvalid(path: path, reason: "permission denied")
        }
        guard st.st_size > 0 else { throw .notAVault(path: path, reason: "empty file") }
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .vaultPathInvalid(path: path, reason: String(cString: strerror(errno))) }
        defer { Glibc.close(fd) }
        var magic = [UInt8](repeating: 0, count: 16)
        let n = Glibc.read(fd, &magic, 16)
        guard n == 16, magic == Array("SQLite format 3\0".utf8) else {
            throw .notAVault(path: path, reason: "not a SQLite database")
        }
    }

    // MARK: - Transactions

    /// Runs `body` in one IMMEDIATE transaction; commits when it returns, rolls back on throw.
    package func write<T>(_ body: (StoreTransaction) throws -> T) throws(VaultError) -> T {
        do {
            return try dbQueue.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    try checkSchema(db)
                    result = try body(db)
                    return .commit
                }
                return result!
            }
        } catch {
            throw Self.mapDatabaseError(error, path: path)
        }
    }

    /// Runs `body` in a read transaction (a consistent snapshot).
    package func read<T>(_ body: (StoreTransaction) throws -> T) throws(VaultError) -> T {
        do {
            return try dbQueue.read { db in
                try checkSchema(db)
                return try body(db)
            }
        } catch {
            throw Self.mapDatabaseError(error, path: path)
        }
    }

    /// GRDB's description of a decoding error without its trailing dump of the whole row:
    /// `could not decode String from database value Data(1 bytes) - column: "name", column index: 1`.
    package static func withoutRow(_ error: RowDecodingError) -> String {
        let text = "\(error)"
        let cut = text.range(of: ", row: ")?.lowerBound ?? text.firstIndex(of: "\n") ?? text.endIndex
        return String(text[..<cut].prefix(200))
    }

    /// Turns GRDB/SQLite errors into VaultError with a message that never includes SQL
    /// arguments (GRDB keeps them out unless `publicStatementArguments` is set, which we never do).
    package static func mapDatabaseError(_ error: any Error, path: String? = nil) -> VaultError {
        if let e = error as? VaultError { return e }
        if let e = error as? StoredTypeError {
            return .corruptVault(reason: "a stored value has the wrong type (\(e))")
        }
        if let e = error as? RowDecodingError {
            // Its description lists the whole row; name only the column (the row is not input
            // the user typed, and a message should stay one line).
            return .corruptVault(reason: "a stored value has the wrong type (\(Self.withoutRow(e)))")
        }
        guard let e = error as? DatabaseError else { return .io(reason: "\(error)") }
        switch e.resultCode {
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return .database(reason: "the vault is locked by another process (waited \(Int(busyTimeout)) s)")
        case .SQLITE_NOTADB:
            return .notAVault(path: path ?? "vault", reason: "not a SQLite database")
        case .SQLITE_CORRUPT:
            return .corruptVault(reason: "SQLite reports the file is malformed")
        case .SQLITE_FULL:
            return .io(reason: "disk full: the vault was not changed")
        case .SQLITE_READONLY:
            return .io(reason: "the vault is read-only (check the file and its directory)")
        case .SQLITE_CANTOPEN:
            return .vaultPathInvalid(path: path ?? "vault", reason: "cannot open the database file (is the directory writable?)")
        case .SQLITE_IOERR:
            return .io(reason: "I/O error while writing the vault (disk full or file too large?); nothing was changed")
        case .SQLITE_CONSTRAINT:
            // Our statements satisfy the schema's constraints; one that fails is a bug or a
            // concurrent edit of the file, not corruption of what is stored.
            return .database(reason: "constraint violated: \(e.message ?? "unknown"); nothing was changed")
        default:
            return .database(reason: e.message ?? "SQLite error \(e.resultCode.rawValue)")
        }
    }
}

extension VaultStore {
    /// The names stored in the vault at `path` that `add` would accept, read through a
    /// read-only connection after the usual file checks (no passphrase, no audit row): for
    /// shell completion and "did you mean". Empty when the vault cannot be read.
    public static func acceptedTokenNames(at path: String) -> [String] {
        guard let store = try? open(at: path, readonly: true) else { return [] }
        defer { store.close() }
        return ((try? store.tokenNames()) ?? []).filter { (try? Validate.tokenName($0)) != nil }
    }

    /// Every token name, sorted (metadata only).
    /// An exclusive flock(2) on the vault file for the life of the returned object: `renew` and
    /// `sync` hold it so two runs never work on the same console keys at once. (SQLite's own
    /// locks are fcntl locks, which flock does not interact with on Linux.)
    package final class RunLock {
        package let fd: Int32
        package init(fd: Int32) { self.fd = fd }
        deinit { Glibc.close(fd) }
    }

    package func exclusiveRunLock() throws(VaultError) -> RunLock {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw .io(reason: "cannot open \(path): \(String(cString: strerror(errno)))") }
        // A second, briefly: a lock just released can still be held by a copy of the descriptor
        // in a child being forked by another thread (before its exec closes it).
        var locked = flock(fd, LOCK_EX | LOCK_NB) == 0
        for _ in 0..<20 where !locked {
            usleep(50_000)
            locked = flock(fd, LOCK_EX | LOCK_NB) == 0
        }
        guard locked else {
            Glibc.close(fd)
            throw .io(reason: "another `vault renew` or `vault sync` is running on \(path)")
        }
        return RunLock(fd: fd)
    }

    public func tokenNames() throws(VaultError) -> [String] {
        try read { db in try String.fetchAll(db, sql: "SELECT name FROM tokens ORDER BY name") }
    }

    /// Whether a token named `name` exists (metadata only).
    public func tokenExists(_ name: String) throws(VaultError) -> Bool {
        try read { db in try TokenRecord.exists(name, db) }
    }

    /// Throws `tokenNotFound` for the first of `names` that is not stored (one read; commands
    /// call it before asking for the passphrase).
    public func requireTokens(_ names: [String]) throws(VaultError) {
        let missing = try read { db in try names.first { try !TokenRecord.exists($0, db) } }
        if let missing { throw .tokenNotFound(name: missing) }
    }
}

extension VaultStore {
    /// After ciphertext was deleted: copies the WAL into the database (where secure_delete has
    /// zeroed the freed pages) and truncates the WAL to zero bytes, so the removed versions do
    /// not linger in `-wal`. Returns false when another connection's read kept part of the WAL
    /// alive (its frames are overwritten or truncated by a later checkpoint).
    @discardableResult
    public func purgeWAL() -> Bool {
        let row = try? dbQueue.writeWithoutTransaction { db in try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        guard let row, let busy: Int = row[0] else { return false }
        return busy == 0
    }
}

extension VaultStore {
    /// Closes the connection (checkpointing the WAL) before the process is replaced by `exec`.
    public func close() {
        try? dbQueue.close()
    }
}
