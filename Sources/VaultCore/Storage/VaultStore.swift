import Foundation
import GRDB
#if canImport(Glibc)
import Glibc
#endif

/// The SQLite file behind a vault: opening with safety checks, migrations, and transactions.
///
/// Every write runs in one `BEGIN IMMEDIATE` transaction with a busy timeout, so concurrent
/// `vault` processes queue instead of failing. `secure_delete` is on for every connection.
public final class VaultStore: Sendable {
    /// The latest schema this binary understands (the last embedded migration).
    public static var schemaVersion: String { EmbeddedMigrations.all.last!.name }
    static let busyTimeout: TimeInterval = 30

    public let path: String
    let dbQueue: DatabaseQueue

    private init(path: String, dbQueue: DatabaseQueue) {
        self.path = path
        self.dbQueue = dbQueue
    }

    static func configuration(readonly: Bool = false) -> Configuration {
        var config = Configuration()
        config.busyMode = .timeout(busyTimeout)
        config.readonly = readonly
        config.prepareDatabase { db in
            // Per connection, so set on every open (SQLite's default is build-dependent).
            try db.execute(sql: "PRAGMA secure_delete = ON; PRAGMA synchronous = FULL")
        }
        return config
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        for (name, sql) in EmbeddedMigrations.all {
            m.registerMigration(name) { db in try db.execute(sql: sql) }
        }
        return m
    }

    // MARK: - Create and open

    /// Creates a new, empty vault file (0600) at `path`; the parent directory must exist.
    /// Refuses to touch an existing file.
    static func create(at path: String) throws(VaultError) -> VaultStore {
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
            return VaultStore(path: path, dbQueue: queue)
        } catch {
            unlink(path); unlink(path + "-wal"); unlink(path + "-shm")
            throw mapDatabaseError(error)
        }
    }

    /// Opens an existing vault after checking that it is a private regular file, a SQLite
    /// database, and a v1vault vault with a schema this binary knows. Applies pending migrations.
    static func open(at path: String, readonly: Bool = false) throws(VaultError) -> VaultStore {
        try checkExistingFile(path)
        let queue: DatabaseQueue
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration(readonly: readonly))
        } catch {
            throw mapDatabaseError(error, path: path)
        }
        do {
            // One read transaction for every check: is it a vault, and which migrations ran.
            let m = migrator
            let found = try queue.read { db -> (applied: Set<String>, superseded: Bool, headers: Int)? in
                guard try db.tableExists("vault_header"), try db.tableExists("grdb_migrations") else { return nil }
                return (try m.appliedIdentifiers(db), try m.hasBeenSuperseded(db),
                        try Int.fetchOne(db, sql: "SELECT count(*) FROM vault_header") ?? 0)
            }
            guard let state = found else { throw VaultError.notAVault(path: path, reason: "no vault header") }
            if state.superseded {
                let unknown = state.applied.subtracting(EmbeddedMigrations.all.map(\.name)).sorted().last ?? "?"
                throw VaultError.schemaTooNew(path: path, found: unknown)
            }
            if state.applied.count < EmbeddedMigrations.all.count {
                if readonly { throw VaultError.io(reason: "vault needs a schema upgrade; run any write command first") }
                try m.migrate(queue)
            }
            guard state.headers == 1 else { throw VaultError.notAVault(path: path, reason: "vault header is missing") }
        } catch let e as VaultError {
            throw e
        } catch {
            throw mapDatabaseError(error, path: path)
        }
        return VaultStore(path: path, dbQueue: queue)
    }

    // MARK: - File checks

    /// Throws unless a new vault file can be created at `path` (checked before prompting).
    public static func checkCreatable(_ path: String) throws(VaultError) { try checkParent(of: path) }

    static func checkParent(of path: String) throws(VaultError) {
        let parent = (path as NSString).deletingLastPathComponent
        var st = stat()
        guard stat(parent.isEmpty ? "." : parent, &st) == 0 else {
            throw .vaultPathInvalid(path: path, reason: "directory \(parent) does not exist")
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            throw .vaultPathInvalid(path: path, reason: "\(parent) is not a directory")
        }
        guard access(parent.isEmpty ? "." : parent, W_OK | X_OK) == 0 else {
            throw .vaultPathInvalid(path: path, reason: "directory \(parent) is not writable")
        }
    }

    static func checkExistingFile(_ path: String) throws(VaultError) {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            if errno == ENOENT {
                let parent = (path as NSString).deletingLastPathComponent
                var pst = stat()
                if !parent.isEmpty, stat(parent, &pst) != 0 {
                    throw .vaultPathInvalid(path: path, reason: "directory \(parent) does not exist")
                }
                throw .vaultNotFound(path: path)
            }
            throw .vaultPathInvalid(path: path, reason: String(cString: strerror(errno)))
        }
        if (st.st_mode & S_IFMT) == S_IFLNK {
            // Follow one level for users who symlink their vault, but check the target too.
            guard stat(path, &st) == 0 else { throw .vaultPathInvalid(path: path, reason: "dangling symbolic link") }
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw .vaultPathInvalid(path: path, reason: (st.st_mode & S_IFMT) == S_IFDIR ? "it is a directory" : "not a regular file")
        }
        let mode = UInt16(st.st_mode & 0o777)
        guard mode & 0o077 == 0 else { throw .insecurePermissions(path: path, mode: mode) }
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
    func write<T>(_ body: (Database) throws -> T) throws(VaultError) -> T {
        do {
            return try dbQueue.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.immediate) {
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
    func read<T>(_ body: (Database) throws -> T) throws(VaultError) -> T {
        do {
            return try dbQueue.read(body)
        } catch {
            throw Self.mapDatabaseError(error, path: path)
        }
    }

    /// GRDB's description of a decoding error without its trailing dump of the whole row:
    /// `could not decode String from database value Data(1 bytes) - column: "name", column index: 1`.
    static func withoutRow(_ error: RowDecodingError) -> String {
        let text = "\(error)"
        let cut = text.range(of: ", row: ")?.lowerBound ?? text.firstIndex(of: "\n") ?? text.endIndex
        return String(text[..<cut].prefix(200))
    }

    /// Turns GRDB/SQLite errors into VaultError with a message that never includes SQL
    /// arguments (GRDB keeps them out unless `publicStatementArguments` is set, which we never do).
    static func mapDatabaseError(_ error: any Error, path: String? = nil) -> VaultError {
        if let e = error as? VaultError { return e }
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
            return .corruptVault(reason: "constraint violated: \(e.message ?? "unknown")")
        default:
            return .database(reason: e.message ?? "SQLite error \(e.resultCode.rawValue)")
        }
    }
}

extension VaultStore {
    /// Every token name, sorted (metadata only).
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
    /// Closes the connection (checkpointing the WAL) before the process is replaced by `exec`.
    public func close() {
        try? dbQueue.close()
    }
}
