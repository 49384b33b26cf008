import GRDB
import VaultFormat

/// The schema a vault file must have, and the check that it has exactly that.
///
/// The file is hostile input: someone who can write it but lacks the passphrase could plant a
/// view in place of a table (so a lookup returns another token's row), a trigger that rewrites
/// audit rows, or drop an index that enforces an invariant. So before any query touches a table,
/// `sqlite_master` must list exactly the objects the applied migrations create — same type,
/// name, table and SQL text — and nothing else (SECURITY.md, "What a reader MUST reject").
package enum Schema {
    /// One row of `sqlite_master`, without `rootpage` (which differs between files).
    package struct Object: Hashable, Comparable, CustomStringConvertible {
        package var type: String
        package var name: String
        package var table: String
        package var sql: String?

        package static func < (a: Object, b: Object) -> Bool { (a.type, a.name) < (b.type, b.name) }
        package var description: String { "\(type) \(name)" }
    }

    /// `expected(for:)[n]`: the objects after the first `n` migrations (n ≥ 1), exactly what
    /// running the embedded migrations on an empty database with `sqlite` (its
    /// `sqlite_source_id()`) creates. With the SQLite the snapshot was made with (and the same
    /// migrations) that is `SchemaSnapshot` (SchemaSnapshot.swift, written by the Storage
    /// tests); with any other it is `computed`, so the check never depends on the snapshot
    /// being right for a SQLite it was not made with. Running the migrations at every start
    /// cost more than half of a session `export` (docs/PERFORMANCE.md, "Start-up").
    package static func expected(for sqlite: String?) -> [[Object]] {
        source(for: sqlite) == .snapshot ? SchemaSnapshot.expected : computed
    }

    package enum Source: Equatable { case snapshot, computed }

    package static func source(for sqlite: String?) -> Source {
        sqlite == SchemaSnapshot.sqliteSourceID && SchemaSnapshot.migrations == EmbeddedMigrations.all.map(\.name)
            ? .snapshot : .computed
    }

    /// The objects after each migration, computed once per process by running the embedded
    /// migrations on an in-memory database with the SQLite this process runs.
    package static let computed: [[Object]] = {
        do {
            let queue = try DatabaseQueue()
            var snapshots: [[Object]] = [[]]
            let migrator = VaultStore.migrator
            for m in EmbeddedMigrations.all {
                try migrator.migrate(queue, upTo: m.name)
                snapshots.append(try queue.read(objects))
            }
            return snapshots
        } catch {
            fatalError("embedded migrations do not apply to an empty database: \(error)")
        }
    }()

    /// The running SQLite's `sqlite_source_id()` (a built-in: no table is read).
    package static func sqliteSourceID(_ db: Database) throws -> String? {
        try String.fetchOne(db, sql: "SELECT sqlite_source_id()")
    }

    /// Every object in the file's schema, sorted.
    package static func objects(_ db: Database) throws -> [Object] {
        try Row.fetchAll(db, sql: "SELECT type, name, tbl_name, sql FROM sqlite_master").map { row in
            Object(type: try row.decode(forColumn: "type"), name: try row.decode(forColumn: "name"),
                   table: try row.decode(forColumn: "tbl_name"), sql: try row.decode(forColumn: "sql"))
        }.sorted()
    }

    /// How `actual` differs from what `applied` migrations create: empty when identical.
    package static func differences(_ actual: [Object], applied: Int, expected: [[Object]]) -> [String] {
        let want = expected[applied]
        var out: [String] = []
        let wantByKey = Dictionary(uniqueKeysWithValues: want.map { ("\($0.type) \($0.name)", $0) })
        let haveByKey = Dictionary(actual.map { ("\($0.type) \($0.name)", $0) }, uniquingKeysWith: { a, _ in a })
        for o in actual where wantByKey["\(o.type) \(o.name)"] == nil {
            out.append("unexpected \(o.type) \(o.name)")
        }
        for o in want {
            guard let have = haveByKey["\(o.type) \(o.name)"] else { out.append("missing \(o.type) \(o.name)"); continue }
            if have != o { out.append("\(o.type) \(o.name) differs from its migration") }
        }
        if out.isEmpty, actual.count != want.count { out.append("duplicate schema entries") }
        return out.sorted()
    }

    /// The applied migrations, read only after `grdb_migrations` itself is known to be the
    /// plain table GRDB creates (so the read runs no planted view).
    package static func appliedMigrations(_ db: Database, _ actual: [Object], expected: [[Object]]) throws -> [String]? {
        let migrations = expected[1].filter { $0.table == "grdb_migrations" }
        guard migrations.allSatisfy({ actual.contains($0) }),
              actual.filter({ $0.table == "grdb_migrations" }).count == migrations.count else { return nil }
        return try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier")
    }

    /// Throws unless the schema is exactly what the applied migrations create. Returns how
    /// many migrations are applied (fewer than embedded: the caller upgrades the file).
    package static func verify(_ db: Database, path: String) throws -> Int {
        let actual = try objects(db)
        guard actual.contains(where: { $0.type == "table" && $0.name == "vault_header" }) else {
            throw VaultError.notAVault(path: path, reason: "no vault header")
        }
        let snapshots = expected(for: try sqliteSourceID(db))
        guard let applied = try appliedMigrations(db, actual, expected: snapshots) else {
            throw VaultError.schemaTampered(differences: ["table grdb_migrations differs from what GRDB creates"])
        }
        let known = EmbeddedMigrations.all.map(\.name)
        if let unknown = applied.first(where: { !known.contains($0) }) {
            throw VaultError.schemaTooNew(path: path, found: unknown)
        }
        guard !applied.isEmpty, applied == Array(known.prefix(applied.count)) else {
            throw VaultError.schemaTampered(differences: ["applied migrations are not a prefix of the known ones: "
                                                          + applied.joined(separator: ", ")])
        }
        let diff = differences(actual, applied: applied.count, expected: snapshots)
        guard diff.isEmpty else { throw VaultError.schemaTampered(differences: diff) }
        return applied.count
    }
}
