import Foundation
import GRDB
import Testing
import TestSupport
@testable import VaultCore
@testable import VaultFormat
@testable import VaultStorage

@Suite("Storage")
struct StorageTests {
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
    }

    @Test("the embedded migrations equal migrations/*.sql byte for byte")
    func embeddedMigrationsMatchFolder() throws {
        let dir = Self.packageRoot.appendingPathComponent("migrations")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".sql") }.sorted()
        #expect(files.count == EmbeddedMigrations.all.count, "run scripts/gen-migrations")
        #expect(files.map { String($0.dropLast(4)) } == EmbeddedMigrations.all.map(\.name))
        for (file, embedded) in zip(files, EmbeddedMigrations.all) {
            let onDisk = try Data(contentsOf: dir.appendingPathComponent(file))
            #expect(onDisk == Data(embedded.sql.utf8), "\(file) differs from the embedded copy: run scripts/gen-migrations")
        }
    }

    @Test("migration file names are NNNN_name.sql and numbered without gaps")
    func migrationNames() {
        for (i, m) in EmbeddedMigrations.all.enumerated() {
            #expect(m.name.hasPrefix(String(format: "%04d_", i + 1)), "\(m.name)")
        }
    }

    @Test("import's look at the manager marks reads a planted non-UTF-8 BLOB as nothing, never traps")
    func managerMarksPlantedBlob() throws {
        let f = Fixture()
        _ = try f.create()
        try f.unlocked().add("m", token: secure("eyJ.m"), metadata: TokenMetadata(), expires: nil)
        try f.raw().write { db in try db.execute(sql: "UPDATE tokens SET base_url = X'FF80', manager = 1 WHERE name = 'm'") }
        let marks = try f.raw().read { db in try TokenRecord.managerNamesByBaseURL(db) }
        #expect(marks == ["": "m"])
    }

    @Test("a new vault file is 0600 and its header is complete")
    func permissionsAndHeader() throws {
        let f = Fixture()
        _ = try f.create()
        let attrs = try FileManager.default.attributesOfItem(atPath: f.path)
        #expect((attrs[.posixPermissions] as! NSNumber).intValue & 0o777 == 0o600)
        let header = try f.raw().read { db in try Row.fetchOne(db, sql: "SELECT * FROM vault_header")! }
        #expect((header["vault_id"] as Data).count == 16)
        #expect((header["kdf_salt"] as Data).count == 16)
        #expect((header["wrapped_key"] as Data).count == 64)
        #expect(header["kdf_algorithm"] as String == "argon2id13")
        let journal = try f.raw().read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        #expect(journal == "wal")
    }

    @Test("a vault readable by group or others is refused with a chmod hint")
    func insecurePermissions() throws {
        let f = Fixture()
        _ = try f.create()
        chmod(f.path, 0o644)
        #expect(throws: VaultError.insecurePermissions(path: f.path, mode: 0o644)) { try f.open() }
        #expect(VaultError.insecurePermissions(path: f.path, mode: 0o644).hint == "chmod 600 \(f.path)")
    }

    @Test("init refuses to overwrite an existing file")
    func noOverwrite() throws {
        let f = Fixture()
        try setupFile(f.path, "keep me")
        #expect(throws: VaultError.vaultExists(path: f.path)) { try f.create() }
        #expect(try String(contentsOfFile: f.path, encoding: .utf8) == "keep me")
    }

    @Test("a missing vault, a directory, a non-SQLite file and an empty file are refused clearly")
    func notAVault() throws {
        let f = Fixture()
        #expect(throws: VaultError.vaultNotFound(path: f.path)) { try f.open() }
        #expect(throws: VaultError.vaultPathInvalid(path: f.dir.path, reason: "it is a directory")) {
            try Vault.open(at: f.dir.path)
        }
        try setupFile(f.path, "hello, not sqlite at all")
        #expect(throws: VaultError.notAVault(path: f.path, reason: "not a SQLite database")) { try f.open() }
        try setupFile(f.path, "")
        #expect(throws: VaultError.notAVault(path: f.path, reason: "empty file")) { try f.open() }
    }

    @Test("a SQLite database that is not a vault is refused and left byte-identical")
    func foreignSQLite() throws {
        let f = Fixture()
        let q = try DatabaseQueue(path: f.path)
        try q.write { db in try db.execute(sql: "CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('x')") }
        try q.close()
        chmod(f.path, 0o600)
        let before = try Data(contentsOf: URL(fileURLWithPath: f.path))
        #expect(throws: VaultError.notAVault(path: f.path, reason: "no vault header")) { try f.open() }
        #expect(try Data(contentsOf: URL(fileURLWithPath: f.path)) == before)
    }

    @Test("a vault from a newer schema is refused")
    func schemaTooNew() throws {
        let f = Fixture()
        _ = try f.create()
        try f.raw().write { db in try db.execute(sql: "INSERT INTO grdb_migrations VALUES ('9999_future')") }
        #expect(throws: VaultError.schemaTooNew(path: f.path, found: "9999_future")) { try f.open() }
    }

    @Test("the expiring query is answered from the expiry index, not a scan")
    func expiringUsesIndex() throws {
        let f = Fixture()
        _ = try f.create()
        let plan = try f.raw().read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + TokenSummaryRow.expiringSQL, arguments: [0]).map { $0["detail"] as String }
        }
        #expect(plan.contains { $0.contains("USING INDEX token_versions_current_expiry") }, "\(plan)")
        #expect(!plan.contains { $0.hasPrefix("SCAN") }, "\(plan)")
    }

    @Test("passwd with 1,000 tokens rewraps the master key and changes no token row")
    func passwdTouchesNoTokenRow() throws {
        let f = Fixture()
        _ = try f.create()
        let u = try f.unlocked()
        try u.importTokens((0..<1000).map { i in ImportEntry(name: "t\(i)", token: "token-\(i)", metadata: TokenMetadata(), expires: nil) })
        func snapshot() throws -> [Row] {
            try f.raw().read { db in try Row.fetchAll(db, sql: "SELECT * FROM token_versions ORDER BY token_id, version") }
        }
        let header = { try f.raw().read { db in try Row.fetchOne(db, sql: "SELECT kdf_salt, wrap_nonce, wrapped_key FROM vault_header")! } }
        let before = try snapshot(), headerBefore = try header()
        try u.rewrap(passphrase: secure("new passphrase"), parameters: testKDF)
        #expect(try snapshot() == before)
        #expect(try header() != headerBefore)
        #expect(before.count == 1000)
        #expect(throws: VaultError.wrongPassphrase) { try f.unlocked(passphrase: "pass phrase") }
        #expect(string(try f.unlocked(passphrase: "new passphrase").reveal("t999").secret) == "token-999")
    }

    @Test("the raw database file never contains the plaintext token")
    func noPlaintextOnDisk() throws {
        let f = Fixture()
        _ = try f.create()
        let token = "eyJplaintext-marker-9f8e7d6c5b4a"
        let u = try f.unlocked()
        try u.add("a", token: secure(token), metadata: TokenMetadata(), expires: nil)
        _ = try u.reveal("a")
        _ = try u.rotate("a", token: secure(token + "2"), expires: nil)
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: f.path + suffix) {
            let data = try Data(contentsOf: URL(fileURLWithPath: f.path + suffix))
            #expect(data.range(of: Data(token.utf8)) == nil, "plaintext found in vault.db\(suffix)")
        }
        let audit = try f.raw().read { db in try String.fetchAll(db, sql: "SELECT tokens || coalesce(reason, '') || details FROM audit_log") }
        #expect(!audit.joined().contains(token))
    }
}
