import Foundation
import Testing
import TestSupport

/// Someone who can write the vault file (or its directory) but has no passphrase: one test per
/// finding of the hardening review (issue "The vault file is hostile"), each building the
/// hostile file with the sqlite3 CLI and running the real binary.
@Suite("the vault file is hostile (out of process)")
struct HostileFileTests {
    /// Runs SQL on the vault with the sqlite3 command-line shell, as an attacker would.
    func sqlite3(_ c: CLI, _ sql: String, file: String? = nil) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["sqlite3", "-bail", file ?? c.vaultPath]
        let input = Pipe(), err = Pipe()
        p.standardInput = input
        p.standardOutput = FileHandle.nullDevice
        p.standardError = err
        try! p.run()
        input.fileHandleForWriting.write(Data(sql.utf8))
        try! input.fileHandleForWriting.close()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw SetupError("sqlite3 failed: \(String(decoding: e, as: UTF8.self))") }
    }

    /// Two tokens, `dev` and `prod`, in their own regions.
    func twoTokens() throws -> CLI {
        let c = try CLI.initialized()
        try c.add("dev", "eyJ.dev-token", "--region", "eu")
        try c.add("prod", "eyJ.PROD-SECRET", "--region", "us")
        return c
    }

    // MARK: - 1 and 3: planted views and triggers

    @Test("1: a view in place of token_versions (random() per evaluation) never releases prod's token as dev's")
    func viewSwapsTokens() throws {
        let c = try twoTokens()
        defer { c.cleanup() }
        // The review's construction: the WHERE clause sees dev's id, the output column prod's
        // row, because random() is evaluated separately for each.
        try sqlite3(c, """
            ALTER TABLE token_versions RENAME TO tv_real;
            CREATE VIEW token_versions AS
              SELECT CASE WHEN abs(random()) % 2 = 0 THEN r.token_id ELSE d.id END AS token_id,
                     r.version, r.nonce, r.ciphertext, r.created_at, r.expires_at, r.retired_at
              FROM tv_real r, tokens d, tokens p
              WHERE d.name = 'dev' AND p.name = 'prod' AND r.token_id IN (p.id, d.id) AND (r.token_id = p.id OR random() > 0);
            """)
        for args in [["export", "dev", "--format", "raw"], ["show", "dev", "--reveal"], ["exec", "dev", "--", "sh", "-c", "echo $TMV1_TOKEN"],
                     ["check", "dev"], ["list"], ["doctor", "--no-unlock"]] {
            let r = c.run(args, stdin: nil)
            #expect(!r.out.contains("PROD-SECRET") && !r.stderr.contains("PROD-SECRET"), "\(args): \(r)")
            let want: Int32 = args[0] == "exec" ? 125 : args[0] == "doctor" ? 21 : 7
            #expect(r.status == want, "\(args): \(r)")
            if args[0] == "doctor" {
                #expect(r.out.contains("FAIL  schema            unexpected view token_versions"), "\(r.out)")
                #expect(r.out.contains("missing table token_versions"), "\(r.out)")
            } else if args[0] != "exec" {
                #expect(r.stderr.hasPrefix("error: vault schema differs from what v1vault creates: "), "\(args): \(r)")
            }
        }
    }

    @Test("3: a trigger that rewrites reveal rows is refused before anything is revealed; audit verify refuses too")
    func triggerBlindsAudit() throws {
        let c = try twoTokens()
        defer { c.cleanup() }
        // Counted before the trigger is planted: with it, `vault audit` itself refuses the file.
        let before = c.audit(action: "export").count
        try sqlite3(c, """
            CREATE TRIGGER blind AFTER INSERT ON audit_log WHEN NEW.action IN ('reveal', 'export', 'exec', 'check')
            BEGIN UPDATE audit_log SET action = 'list' WHERE seq = NEW.seq; END;
            """)
        let r = c.run("export", "prod", "--format", "raw")
        #expect(r.status == 7 && r.out.isEmpty, "\(r)")
        #expect(r.stderr.contains("unexpected trigger blind"), "\(r)")
        #expect(c.run("audit", "verify").status == 7)
        let doctor = c.run("doctor")
        #expect(doctor.status == 21 && doctor.out.contains("unexpected trigger blind"), "\(doctor)")
        // Dropped again, the file is clean; nothing was exported in between.
        try sqlite3(c, "DROP TRIGGER blind;")
        #expect(c.audit(action: "export").count == before)
        #expect(c.run("audit", "verify").status == 0)
    }

    @Test("a line break planted in a text field cannot forge a line of show or list")
    func plantedLineBreak() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", "eyJ.k.k", "--role", "SIEM")
        try c.sql("UPDATE tokens SET description = 'ok' || char(10) || 'token            eyJforged', role = 'r' || char(10) || 'forged-row' WHERE name = 'k'")
        let show = c.run("show", "k")
        #expect(!show.out.contains("\ntoken") && show.out.contains("ok\\u000atoken"), "\(show)")
        let list = c.run("list")
        #expect(!list.out.contains("\nforged-row") && list.out.split(separator: "\n").count == 2, "\(list)")
    }

    @Test("planted schema objects of every kind are refused with exit 7", arguments: [
        "CREATE INDEX extra ON tokens(role);",
        "CREATE TABLE extra (x);",
        "CREATE VIEW names AS SELECT name FROM tokens;",
        "CREATE TRIGGER t BEFORE DELETE ON tokens BEGIN SELECT 1; END;",
        "DROP INDEX token_versions_current_expiry;",
        "ANALYZE;",
    ])
    func plantedObjects(sql: String) throws {
        let c = try twoTokens()
        defer { c.cleanup() }
        try sqlite3(c, sql)
        let r = c.run("show", "dev", "--reveal")
        #expect(r.status == 7 && r.stderr.hasPrefix("error: vault schema differs from what v1vault creates: "), "\(sql): \(r)")
        #expect(!r.out.contains("dev-token"))
    }

    @Test("a migration list that is not a prefix of the known ones is refused, never re-run")
    func migrationsOutOfOrder() throws {
        let c = try twoTokens()
        defer { c.cleanup() }
        try sqlite3(c, "DELETE FROM grdb_migrations WHERE identifier = '0002_token_metadata_mac';")
        let r = c.run("list")
        #expect(r.status == 7 && r.stderr.contains("applied migrations are not a prefix of the known ones"), "\(r)")
        try sqlite3(c, "INSERT INTO grdb_migrations VALUES ('0002_token_metadata_mac'); INSERT INTO grdb_migrations VALUES ('0099_future');")
        let newer = c.run("list")
        #expect(newer.status == 7 && newer.stderr.contains("has schema 0099_future, newer than this binary understands"), "\(newer)")
    }

    // MARK: - 2: the directory and the -wal/-shm companions

    @Test("2: a -wal or -shm planted by someone else (mode 666, a symlink) is refused before SQLite opens it", arguments: ["-wal", "-shm"])
    func plantedCompanion(suffix: String) throws {
        let c = try twoTokens()
        defer { c.cleanup() }
        let planted = c.vaultPath + suffix
        _ = FileManager.default.createFile(atPath: planted, contents: Data())
        chmod(planted, 0o666)
        let r = c.run("export", "prod", "--format", "raw")
        #expect(r.status == 8 && r.out.isEmpty, "\(r)")
        #expect(r.stderr.hasPrefix("error: refusing an unsafe vault location: \(planted) has mode 666"), "\(r)")
        try FileManager.default.removeItem(atPath: planted)
        try FileManager.default.createSymbolicLink(atPath: planted, withDestinationPath: c.dir + "/elsewhere")
        let link = c.run("list")
        #expect(link.status == 8 && link.stderr.contains("\(planted) is a symbolic link"), "\(link)")
        try FileManager.default.removeItem(atPath: planted)
        #expect(c.run("export", "prod", "--format", "raw").out == "eyJ.PROD-SECRET")
    }

    @Test("2: a -wal or -shm that belongs to another user, however private, is refused", .enabled(if: geteuid() == 0, "needs root to chown the planted file to uid 65534"),
          arguments: ["-wal", "-shm"])
    func foreignCompanion(suffix: String) throws {
        let c = try twoTokens()
        defer { c.cleanup() }
        let planted = c.vaultPath + suffix
        try setupFile(planted, "", mode: 0o600)
        guard chown(planted, 65534, 65534) == 0 else { throw SetupError("chown \(planted): errno \(errno)") }
        let foreign = c.run("list")
        #expect(foreign.status == 8 && foreign.stderr.contains("\(planted) belongs to uid 65534"), "\(foreign)")
        try FileManager.default.removeItem(atPath: planted)
        #expect(c.run("export", "prod", "--format", "raw").out == "eyJ.PROD-SECRET")
    }

    @Test("2: init refuses a directory other users can write to, even with the sticky bit")
    func initSharedDirectory() throws {
        let c = try CLI()
        defer { c.cleanup() }
        let shared = c.dir + "/shared"
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: false)
        chmod(shared, 0o1777)
        let r = c.run("--vault", shared + "/vault.db", "init", "--kdf-memory", "8M", "--kdf-ops", "1")
        #expect(r.status == 8 && r.stderr.contains("directory \(shared) (mode 1777) is writable by other users"), "\(r)")
        #expect(!FileManager.default.fileExists(atPath: shared + "/vault.db"))
    }

    @Test("2: init refuses a directory that belongs to another user", .enabled(if: geteuid() == 0, "needs root to chown the directory to uid 65534"))
    func initForeignDirectory() throws {
        let c = try CLI()
        defer { c.cleanup() }
        let shared = c.dir + "/shared"
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: false)
        guard chmod(shared, 0o755) == 0, chown(shared, 65534, 65534) == 0 else { throw SetupError("chown \(shared): errno \(errno)") }
        let owned = c.run("--vault", shared + "/vault.db", "init", "--kdf-memory", "8M", "--kdf-ops", "1")
        #expect(owned.status == 8 && owned.stderr.contains("belongs to uid 65534"), "\(owned)")
        #expect(!FileManager.default.fileExists(atPath: shared + "/vault.db"))
    }

    // MARK: - 4: descriptors inherited by exec's child

    @Test("4: exec's child inherits only stdin, stdout and stderr: not --passphrase-fd, not the database")
    func execDescriptors() throws {
        let c = try twoTokens()
        defer { c.cleanup() }
        // The passphrase comes from a pipe on fd 3; fd 5 is any other file the caller had open.
        let script = #"""
            printf '%s\n' "$PASS" | "$VAULT" --passphrase-fd 3 exec dev -- sh -c '
              ls /proc/$$/fd
              cat <&3 2>/dev/null && echo "fd 3 readable"; cat <&5 2>/dev/null && echo "fd 5 readable"
              echo "token $TMV1_TOKEN"' 3<&0 5<"$PASSFILE"
            """#
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", script]
        var env = c.env
        env["V1VAULT_PASSPHRASE_FILE"] = nil
        env["VAULT"] = CLI.binary
        env["PASS"] = "correct horse battery"
        env["PASSFILE"] = c.passphraseFile
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(text)")
        #expect(text.contains("token eyJ.dev-token"), "\(text)")
        let fds = text.split(separator: "\n").filter { $0.allSatisfy(\.isNumber) }.map(String.init)
        #expect(fds == ["0", "1", "2"], "\(text)")
        #expect(!text.contains("readable") && !text.contains("correct horse"), "\(text)")
    }

    @Test("4: --passphrase-fd must name a descriptor the caller passed, not one vault opened itself")
    func passphraseFDNotInherited() throws {
        let c = try twoTokens()
        defer { c.cleanup() }
        for fd in ["3", "4", "5", "6", "7"] {
            let r = c.run(["--passphrase-fd", fd, "export", "dev", "--format", "raw"], stdin: nil, env: ["V1VAULT_PASSPHRASE_FILE": nil])
            #expect(r.status == 4 && r.stderr.hasPrefix("error: no passphrase: file descriptor \(fd) is not open"), "\(fd): \(r)")
        }
    }

    // MARK: - 5, 6, 7: version bookkeeping

    @Test("5: two current versions (unique index dropped, old version un-retired) fail closed")
    func twoCurrentVersions() throws {
        let c = try twoTokens()
        defer { c.cleanup() }
        #expect(c.run("rotate", "--force", "prod", stdin: "eyJ.PROD-SECRET-2").status == 0)
        try sqlite3(c, """
            DROP INDEX token_versions_one_current;
            UPDATE token_versions SET retired_at = NULL WHERE version = 1 AND token_id = (SELECT id FROM tokens WHERE name = 'prod');
            """)
        let r = c.run("export", "prod", "--format", "raw")
        #expect(r.status == 7 && r.out.isEmpty, "\(r)")
        let doctor = c.run("doctor")
        #expect(doctor.status == 21 && doctor.out.contains("missing index token_versions_one_current"), "\(doctor)")
    }

    @Test("6: version 2^32+1 never opens version 1's box")
    func versionModulo() throws {
        let c = try twoTokens()
        defer { c.cleanup() }
        let asked = c.run("show", "prod", "--reveal", "--version", "4294967297")
        #expect(asked.status == 9 && !asked.out.contains("PROD"), "\(asked)")
        // Renumbered in the file (its sealed prefix still says 1): fails closed.
        try sqlite3(c, "UPDATE token_versions SET version = 4294967297 WHERE version = 1 AND token_id = (SELECT id FROM tokens WHERE name = 'prod');")
        for args in [["export", "prod", "--format", "raw"], ["show", "prod", "--reveal", "--version", "4294967297"]] {
            let r = c.run(args, stdin: nil)
            #expect(r.status == 14 && !r.out.contains("PROD"), "\(args): \(r)")
            #expect(r.stderr.contains("version number 4294967297 is out of range"), "\(args): \(r)")
        }
        #expect(c.run("doctor").status == 21)
    }

    @Test("7: edits to version bookkeeping fail closed when unlocked", arguments: [
        ("older version made current", """
            UPDATE token_versions SET retired_at = 1 WHERE version = 2 AND token_id = (SELECT id FROM tokens WHERE name = 'prod');
            UPDATE token_versions SET retired_at = NULL WHERE version = 1 AND token_id = (SELECT id FROM tokens WHERE name = 'prod');
            """, "its current version, an expiry or a kept version was changed outside v1vault"),
        ("expiry moved", "UPDATE token_versions SET expires_at = 4102444800 WHERE token_id = (SELECT id FROM tokens WHERE name = 'prod');",
         "its current version, an expiry or a kept version was changed outside v1vault"),
        ("retired version deleted", "DELETE FROM token_versions WHERE version = 1 AND token_id = (SELECT id FROM tokens WHERE name = 'prod');",
         "its current version, an expiry or a kept version was changed outside v1vault"),
        ("state MAC removed", "UPDATE tokens SET state_mac = NULL WHERE name = 'prod';",
         "has no version-state MAC (written before schema 3, or the MAC was removed)"),
        ("state copied from another token", "UPDATE tokens SET state_mac = (SELECT state_mac FROM tokens WHERE name = 'dev'), state_seq = (SELECT state_seq FROM tokens WHERE name = 'dev') WHERE name = 'prod';",
         "its current version, an expiry or a kept version was changed outside v1vault"),
    ])
    func stateEdits(what: String, sql: String, message: String) throws {
        let c = try twoTokens()
        defer { c.cleanup() }
        #expect(c.run("rotate", "--force", "prod", stdin: "eyJ.PROD-SECRET-2").status == 0)
        try sqlite3(c, sql)
        for args in [["export", "prod", "--format", "raw"], ["show", "prod", "--reveal"], ["rotate", "prod"], ["remove", "prod", "--yes"]] {
            let r = c.run(args, stdin: args[0] == "rotate" ? Data("eyJ.PROD-SECRET-3.sig".utf8) : nil)
            #expect(r.status == 14 && !r.out.contains("PROD-SECRET"), "\(what) \(args): \(r)")
            #expect(r.stderr.contains(message), "\(what) \(args): \(r)")
        }
        // Other tokens are unaffected, and doctor names the broken one.
        #expect(c.run("export", "dev", "--format", "raw").out == "eyJ.dev-token")
        let doctor = c.run("doctor")
        #expect(doctor.status == 21 && doctor.out.contains("FAIL  version state     token \"prod\""), "\(what): \(doctor)")
    }

    @Test("7: one token's rows restored from an older copy (a partial rollback) fail closed; the whole file's rollback is caught by --expect-head")
    func partialRollback() throws {
        let c = try twoTokens()
        defer { c.cleanup() }
        let old = c.dir + "/old.db"
        #expect(c.run("backup", old).status == 0)
        #expect(c.run("rotate", "--force", "prod", stdin: "eyJ.PROD-SECRET-2").status == 0)
        // Version 1 current again, with the MAC that was valid then.
        try sqlite3(c, """
            ATTACH '\(old)' AS old;
            DELETE FROM main.token_versions WHERE token_id = (SELECT id FROM tokens WHERE name = 'prod');
            INSERT INTO main.token_versions SELECT * FROM old.token_versions WHERE token_id = (SELECT id FROM old.tokens WHERE name = 'prod');
            UPDATE main.tokens SET state_seq = (SELECT state_seq FROM old.tokens WHERE name = 'prod'),
                                   state_mac = (SELECT state_mac FROM old.tokens WHERE name = 'prod') WHERE name = 'prod';
            """)
        let r = c.run("export", "prod", "--format", "raw")
        #expect(r.status == 14 && r.out.isEmpty, "\(r)")
        #expect(r.stderr.contains("changed it after the state stored") && r.stderr.contains("its rows were rolled back"), "\(r)")
        // The whole file rolled back is consistent in itself: only a recorded head tells.
        let head = c.run("audit", "head").out.trimmingCharacters(in: .newlines)
        try FileManager.default.removeItem(atPath: c.vaultPath)
        try FileManager.default.copyItem(atPath: old, toPath: c.vaultPath)
        #expect(c.run("export", "prod", "--format", "raw").out == "eyJ.PROD-SECRET")
        let verify = c.run("audit", "verify", "--expect-head", head)
        #expect(verify.status == 20, "\(verify)")
    }

    // MARK: - 12, 15: what reaches the terminal; odd header values

    @Test("12: metadata edited into the file reaches the terminal escaped, never raw")
    func terminalEscapes() throws {
        let c = try twoTokens()
        defer { c.cleanup() }
        try sqlite3(c, "UPDATE tokens SET role = 'x' || char(27) || '[2J' || char(155) || '31m' || char(133) || char(8238) || 'evil' WHERE name = 'dev';")
        for args in [["list"], ["show", "dev"], ["list", "--json"], ["show", "dev", "--json"]] {
            let r = c.run(args, stdin: nil)
            #expect(r.status == 0, "\(args): \(r)")
            for raw in ["\u{1b}", "\u{9b}", "\u{85}", "\u{202e}"] { #expect(!r.out.contains(raw), "\(args)") }
            #expect(r.out.contains("\\u202eevil"), "\(args): \(r.out)")
        }
        // The JSON is still valid and carries the exact value.
        let json = try JSONSerialization.jsonObject(with: c.run("show", "dev", "--json").stdout) as! [String: Any]
        #expect(json["role"] as? String == "x\u{1b}[2J\u{9b}31m\u{85}\u{202e}evil")
        // And the edit itself fails closed once unlocked.
        #expect(c.run("export", "dev").status == 14)
    }

    @Test("15: a header with format_version 2 is refused by every command, unlocked or not")
    func headerFormatVersion() throws {
        let c = try twoTokens()
        defer { c.cleanup() }
        try sqlite3(c, "UPDATE vault_header SET format_version = 2;")
        for args in [["list"], ["doctor", "--no-unlock"], ["export", "dev"]] {
            let r = c.run(args, stdin: nil)
            #expect(r.status == 7 && r.stderr.contains("unknown header format version 2"), "\(args): \(r)")
        }
    }

    @Test("15: a FIFO others can write is refused as --passphrase-file")
    func passphraseFIFO() throws {
        let c = try twoTokens()
        defer { c.cleanup() }
        let fifo = c.dir + "/pass.fifo"
        #expect(mkfifo(fifo, 0o666) == 0)
        chmod(fifo, 0o666)
        let r = c.runWithoutTerminal("--passphrase-file", fifo, "export", "dev", env: ["V1VAULT_PASSPHRASE_FILE": nil])
        #expect(r.status == 8 && r.stderr.hasPrefix("error: \(fifo) is accessible by other users (mode 666)"), "\(r)")
    }
}

/// The low-severity findings of the same review that are not about the file: output to CI
/// runners and terminals, network limits, and what lingers on disk.
@Suite("hardening: GitHub masks, timeouts, loopback, WAL (out of process)")
struct HardeningCLITests {
    @Test("9: the ::add-mask:: value is escaped as the runner unescapes it, and comes before $GITHUB_ENV")
    func githubMask() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", "eyJ.a%25b%0Ac%")
        let envFile = c.dir + "/github_env"
        _ = FileManager.default.createFile(atPath: envFile, contents: Data())
        let r = c.run(["export", "k", "--format", "github"], stdin: nil, env: ["GITHUB_ENV": envFile])
        #expect(r.status == 0, "\(r)")
        // The runner turns %2525 back into %25: the mask is the token exactly.
        #expect(r.out == "::add-mask::eyJ.a%2525b%250Ac%25\n", "\(r.out)")
        let written = try String(contentsOfFile: envFile, encoding: .utf8)
        #expect(written.contains("\neyJ.a%25b%0Ac%\n"), "\(written)")
        // stdout closed: the mask cannot reach the runner, so the token must not reach the file.
        try Data().write(to: URL(fileURLWithPath: envFile))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "exec \"$0\" export k --format github >&-", CLI.binary]
        var env = c.env
        env["GITHUB_ENV"] = envFile
        p.environment = env
        let err = Pipe()
        p.standardError = err
        try p.run()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 1 && stderr.hasPrefix("error: stdout is closed"), "\(p.terminationStatus) \(stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: envFile)).isEmpty)
    }

    @Test("10: --timeout is 1ms to 300s for check, add --check and rotate --check alike", arguments: [
        ["check", "k", "--timeout", "0.4ms"], ["check", "k", "--timeout", "301s"],
        ["add", "n", "--check", "--timeout", "0.4ms"], ["add", "n", "--check", "--timeout", "301s"],
        ["rotate", "k", "--check", "--timeout", "0ms"], ["rotate", "k", "--check", "--timeout", "1000s"],
    ])
    func timeoutBounds(args: [String]) throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", "eyJ.k")
        let before = try c.snapshot()
        let r = c.run(args, stdin: Data("eyJ.new".utf8))
        #expect(r.status == 64, "\(args): \(r)")
        #expect(r.stderr.contains("--timeout must be between 1ms and 300s") || r.stderr.contains("invalid --timeout"), "\(args): \(r)")
        #expect(try c.snapshot() == before)
    }

    @Test("11: only canonical loopback literals may use http; loopback never goes through a proxy")
    func loopback() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        for url in ["http://127.0.0.08", "http://127.000.0.1", "http://localhost:8080", "http://127.0.0.1.nip.io"] {
            let r = c.run(["add", "x", "--base-url", url], stdin: Data("eyJ.x".utf8))
            #expect(r.status == 64 && r.stderr.contains("is not https"), "\(url): \(r)")
        }
        let server = try FakeVisionOne(dir: c.dir)
        try c.add("ok", "eyJ.ok1", "--base-url", server.baseURL)
        // A proxy that would see the token in clear: nothing listens there, so using it fails.
        let proxy = ["http_proxy": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "all_proxy": "http://127.0.0.1:9"]
        let r = c.run(["check", "ok", "--json"], stdin: nil, env: proxy)
        #expect(r.status == 0, "\(r)")
        #expect(server.requests.count == 1)
    }

    @Test("13: a removed or pruned version's ciphertext does not linger in -wal while another connection has the vault open")
    func walPurged() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("kept", "eyJ.kept")
        // Another process holds the vault open (not in a transaction) for the whole test, so
        // no `vault` process is the last to close it: the WAL is never reset on close.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = ["python3", "-c", "import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1]); c.execute('select 1 from tokens').fetchall(); print('ready', flush=True); time.sleep(60)", c.vaultPath]
        let out = Pipe()
        holder.standardOutput = out
        try holder.run()
        defer { kill(holder.processIdentifier, SIGKILL); holder.waitUntilExit() }
        _ = out.fileHandleForReading.availableData
        try c.add("gone", "eyJ.GONE")
        let ciphertext = try c.rows("SELECT hex(ciphertext) FROM token_versions WHERE token_id = (SELECT id FROM tokens WHERE name = 'gone')")
        let needle = Data(hexString: ciphertext[0])!
        let walBefore = (try? Data(contentsOf: URL(fileURLWithPath: c.vaultPath + "-wal"))) ?? Data()
        #expect(walBefore.range(of: needle.prefix(32)) != nil, "the test needs the ciphertext in -wal before remove")
        let r = c.run("remove", "gone", "--yes")
        #expect(r.status == 0 && !r.stderr.contains("may remain"), "\(r)")
        for suffix in ["", "-wal"] {
            let bytes = (try? Data(contentsOf: URL(fileURLWithPath: c.vaultPath + suffix))) ?? Data()
            #expect(bytes.range(of: needle.prefix(32)) == nil, "ciphertext found in vault.db\(suffix)")
        }
    }
}

extension HardeningCLITests {
    @Test("15: JSON import refuses duplicate keys, names entries (not lines), and a byte-order mark is not part of a name")
    func importEdges() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        let dup = c.run(["import", "-", "--format", "json"], stdin: Data(#"[{"name":"a","token":"eyJ.seen","\u0074oken":"eyJ.hidden"}]"#.utf8))
        #expect(dup.status == 64 && dup.stderr.hasPrefix("error: the key \"token\" appears twice in one object"), "\(dup)")
        let twice = c.run(["import", "-", "--format", "json"], stdin: Data(#"[{"name":"a","token":"eyJ.1"},{"name":"a","token":"eyJ.2"}]"#.utf8))
        #expect(twice.status == 64 && twice.stderr.hasPrefix("error: entry 2: duplicate name a in the input"), "\(twice)")
        let listed = try JSONSerialization.jsonObject(with: c.run("list", "--json").stdout) as? [Any]
        #expect(listed?.isEmpty == true, "nothing was imported")
        let bom = c.run(["import", "-"], stdin: Data([0xEF, 0xBB, 0xBF] + Array("bomtok=eyJ.bom\n".utf8)))
        #expect(bom.status == 0, "\(bom)")
        #expect(c.run("export", "bomtok", "--format", "raw").out == "eyJ.bom")
        let bomJSON = c.run(["import", "-", "--format", "json"], stdin: Data([0xEF, 0xBB, 0xBF] + Array(#"[{"name":"bj","token":"eyJ.bj"}]"#.utf8)))
        #expect(bomJSON.status == 0, "\(bomJSON)")
    }
}

extension Data {
    init?(hexString: String) {
        var out = Data()
        var i = hexString.startIndex
        while i < hexString.endIndex {
            let j = hexString.index(i, offsetBy: 2)
            guard let b = UInt8(hexString[i..<j], radix: 16) else { return nil }
            out.append(b)
            i = j
        }
        self = out
    }
}

/// Regressions for what an independent red-team pass found in the first version of the fixes.
@Suite("the vault file is hostile: red-team regressions (out of process)")
struct HostileFileRedTeamTests {
    let h = HostileFileTests()

    /// `a` rotated once; returns the vault and a copy taken before the rotation.
    func rotatedWithOldCopy() throws -> (CLI, String) {
        let c = try CLI.initialized()
        try c.add("a", "eyJ.a-OLD")
        try c.add("b", "eyJ.b", "--region", "eu")
        let old = c.dir + "/old.db"
        guard c.run("backup", old).status == 0 else { throw SetupError("backup failed") }
        guard c.run("rotate", "--force", "a", stdin: "eyJ.a-NEW").status == 0 else { throw SetupError("rotate failed") }
        return (c, old)
    }

    /// Removes what schemas 3, 4, 5, 6 and 7 added (the columns' removal leaves the exact schema-2
    /// text of `tokens`) and retires `a`'s version 2; the caller makes version 1 current its own way.
    static let downgradeToSchema2 = """
        DROP TABLE sharing_state; DELETE FROM grdb_migrations WHERE identifier = '0007_sharing_state';
        DROP TABLE vault_identity; DROP TABLE recipients; DROP TABLE recipient_follows; DROP TABLE received_tokens;
        DELETE FROM grdb_migrations WHERE identifier = '0006_sharing';
        DROP INDEX tokens_one_manager; ALTER TABLE tokens DROP COLUMN manager; ALTER TABLE tokens DROP COLUMN warn_days;
        ALTER TABLE token_versions DROP COLUMN console_state; ALTER TABLE token_versions DROP COLUMN console_name;
        ALTER TABLE token_versions DROP COLUMN console_id; DROP TABLE renewal_intents;
        DELETE FROM grdb_migrations WHERE identifier = '0005_console_links';
        ALTER TABLE tokens DROP COLUMN state_mac; ALTER TABLE tokens DROP COLUMN state_seq; DROP INDEX audit_log_state_changes;
        DROP TABLE audit_key_epochs;
        DELETE FROM grdb_migrations WHERE identifier IN ('0003_token_state_mac', '0004_audit_key_epochs');
        UPDATE token_versions SET retired_at = 1 WHERE version = 2 AND token_id = (SELECT id FROM tokens WHERE name = 'a');

        """

    func restoreOldRows(_ c: CLI, from old: String) -> String {
        """
        ATTACH '\(old)' AS old;
        UPDATE tokens SET state_seq = (SELECT state_seq FROM old.tokens WHERE name = 'a'),
                          state_mac = (SELECT state_mac FROM old.tokens WHERE name = 'a') WHERE name = 'a';
        DELETE FROM token_versions WHERE token_id = (SELECT id FROM tokens WHERE name = 'a');
        INSERT INTO token_versions SELECT * FROM old.token_versions WHERE token_id = (SELECT id FROM old.tokens WHERE name = 'a');
        """
    }

    @Test("a blob where the schema says text (the rotate row's action) cannot hide a partial rollback or audit rows")
    func blobAction() throws {
        let (c, old) = try rotatedWithOldCopy()
        defer { c.cleanup() }
        try h.sqlite3(c, restoreOldRows(c, from: old) + "UPDATE audit_log SET action = CAST(action AS BLOB) WHERE action = 'rotate';")
        let r = c.run("export", "a", "--format", "raw")
        #expect(r.status == 14 && r.out.isEmpty, "\(r)")
        #expect(r.stderr.contains("the audit log after its last change does not verify (audit row 5 was edited outside v1vault: audit_log.action holds a blob)"), "\(r)")
        let verify = c.run("audit", "verify")
        #expect(verify.status == 20 && verify.stderr.contains("was edited outside v1vault: audit_log.action holds a blob"), "\(verify)")
        #expect(c.run("doctor").status == 21)
    }

    @Test("a file presented as schema 2 (columns dropped, schema text restored) is not trusted at the upgrade: NULL state fails closed")
    func downgradedToSchema2() throws {
        let (c, _) = try rotatedWithOldCopy()
        defer { c.cleanup() }
        // The attacker makes version 1 current, removes the state columns and restores the exact
        // schema-2 text of `tokens`, so the file looks like a vault from before schema 3.
        try h.sqlite3(c, Self.downgradeToSchema2 + """
            UPDATE token_versions SET retired_at = NULL WHERE version = 1 AND token_id = (SELECT id FROM tokens WHERE name = 'a');
            """)
        let r = c.run("export", "a", "--format", "raw")
        #expect(r.status == 14 && r.out.isEmpty, "\(r)")
        #expect(r.stderr.contains("has no version-state MAC"), "\(r)")
        #expect(c.audit(action: "seal-state").isEmpty)
    }

    @Test("a removed token's sealed box cannot be put back under a new token that was given its id")
    func tokenIDReuse() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("a", "eyJ.a")
        try c.add("prod", "eyJ.PROD-SECRET", "--base-url", "https://prod.example.com")
        let saved = c.dir + "/saved.db"
        #expect(c.run("backup", saved).status == 0)
        #expect(c.run("remove", "prod", "--yes").status == 0)
        try h.sqlite3(c, "UPDATE sqlite_sequence SET seq = seq - 1 WHERE name = 'tokens';")
        try c.add("staging", "eyJ.staging", "--base-url", "https://staging.example.com")
        try h.sqlite3(c, """
            ATTACH '\(saved)' AS old;
            UPDATE token_versions SET nonce = (SELECT v.nonce FROM old.token_versions v JOIN old.tokens t ON t.id = v.token_id WHERE t.name = 'prod'),
                                      ciphertext = (SELECT v.ciphertext FROM old.token_versions v JOIN old.tokens t ON t.id = v.token_id WHERE t.name = 'prod')
            WHERE token_id = (SELECT id FROM tokens WHERE name = 'staging');
            """)
        let r = c.run("export", "staging")
        #expect(r.status == 14 && !r.out.contains("PROD-SECRET"), "\(r)")
        #expect(c.run("doctor").status == 21)
    }

    @Test("an index emptied behind unchanged schema text is not trusted by the freshness check")
    func emptiedIndex() throws {
        let (c, old) = try rotatedWithOldCopy()
        defer { c.cleanup() }
        try h.sqlite3(c, restoreOldRows(c, from: old))
        let original = try c.rows("SELECT sql FROM sqlite_master WHERE name = 'audit_log_state_changes'")[0]
        try h.sqlite3(c, """
            PRAGMA writable_schema = ON;
            UPDATE sqlite_master SET sql = 'CREATE INDEX audit_log_state_changes ON audit_log(seq) WHERE 0' WHERE name = 'audit_log_state_changes';
            """)
        try h.sqlite3(c, "REINDEX audit_log_state_changes;")
        try h.sqlite3(c, "PRAGMA writable_schema = ON; UPDATE sqlite_master SET sql = '\(original.replacingOccurrences(of: "'", with: "''"))' WHERE name = 'audit_log_state_changes';")
        let r = c.run("export", "a", "--format", "raw")
        #expect(r.status == 14 && r.out.isEmpty, "\(r)")
        #expect(r.stderr.contains("its rows were rolled back"), "\(r)")
    }

    @Test("a forged pending row claiming a change is refused, never laundered into the chain; removing it by hand recovers", arguments: [
        #"'rotate', '[{"name":"b"}]'"#, #"'add', '[{'"#,
    ])
    func forgedPendingRow(values: String) throws {
        let (c, _) = try rotatedWithOldCopy()
        defer { c.cleanup() }
        try h.sqlite3(c, "INSERT INTO audit_log (at, action, tokens, outcome, details, os_user, uid, host, pid) VALUES ('x', \(values), 'ok', '{}', 'u', 0, 'h', 1);")
        let r = c.run("export", "b", "--format", "raw")
        #expect(r.status == 7 && r.out.isEmpty, "\(r)")
        #expect(r.stderr.contains("is not sealed, but v1vault writes such rows sealed"), "\(r)")
        #expect(c.run("rotate", "--force", "b", stdin: "eyJ.b2").status == 7)
        try h.sqlite3(c, "DELETE FROM audit_log WHERE mac IS NULL AND os_user = 'u';")
        #expect(c.run("export", "b", "--format", "raw").out == "eyJ.b")
        // The removal stays on record: the forged row's seq is a gap in the chain.
        let verify = c.run("audit", "verify")
        #expect(verify.status == 20 && verify.stderr.contains("audit row 6 was deleted"), "\(verify)")
    }

    @Test("round 2: clearing sealed rows' MACs (to unseal history) is refused at the next unlock, by reveal, rekey and the upgrade alike")
    func unsealedHistory() throws {
        // (a) one token rolled back, the rows after it un-sealed
        let (c, old) = try rotatedWithOldCopy()
        defer { c.cleanup() }
        let rotateSeq = try c.rows("SELECT seq FROM audit_log WHERE action = 'rotate'")[0]
        try h.sqlite3(c, restoreOldRows(c, from: old) + "UPDATE audit_log SET mac = NULL WHERE seq >= \(rotateSeq);")
        let r = c.run("show", "a", "--reveal")
        #expect(r.status == 7 && !r.out.contains("eyJ.a"), "\(r)")
        #expect(r.stderr.contains("(rotate) is not sealed, but v1vault writes such rows sealed"), "\(r)")
        let newPass = c.dir + "/np"
        try setupFile(newPass, "np\n")
        let rekey = c.run("rekey", "--new-passphrase-file", newPass, "--kdf-memory", "8M", "--kdf-ops", "1")
        #expect(rekey.status == 7, "\(rekey)")
        #expect(c.run(["export", "b"], stdin: nil, env: ["V1VAULT_PASSPHRASE_FILE": newPass]).status == 3)  // the passphrase did not change
        // (b) a sealed row edited so it no longer names the token it changed
        let (d, old2) = try rotatedWithOldCopy()
        defer { d.cleanup() }
        try h.sqlite3(d, restoreOldRows(d, from: old2) + "UPDATE audit_log SET tokens = '[{\"name\":\"zz\",\"version\":2}]' WHERE action = 'rotate';")
        let edited = d.run("export", "a", "--format", "raw")
        #expect(edited.status == 14 && edited.out.isEmpty, "\(edited)")
        #expect(edited.stderr.contains("the audit log after its last change does not verify"), "\(edited)")
    }

    @Test("round 2: every MAC cleared and the file presented as schema 2: nothing is sealed, everything fails closed")
    func allMacsClearedAndDowngraded() throws {
        let (c, _) = try rotatedWithOldCopy()
        defer { c.cleanup() }
        try h.sqlite3(c, Self.downgradeToSchema2 + """
            UPDATE token_versions SET retired_at = NULL, expires_at = NULL WHERE version = 1 AND token_id = (SELECT id FROM tokens WHERE name = 'a');
            UPDATE audit_log SET mac = NULL;
            """)
        let r = c.run("show", "a", "--reveal")
        // Refused for what it is — a version state with no MAC, exit 14 — not any failure (a crash included).
        #expect(r.status == 14 && !r.signaled && r.out.isEmpty, "\(r)")
        #expect(r.stderr.hasPrefix("error: token \"a\" has no version-state MAC (written before schema 3, or the MAC was removed)\n"), "\(r)")
        #expect(c.audit(action: "seal-state").isEmpty)
        #expect(c.run("export", "a", "--format", "raw").out.isEmpty)
    }

    @Test("out-of-range timestamps are a clean error (exit 7), never a crash", arguments: ["expires_at = 9223372036854775807", "created_at = -9223372036854775808", "expires_at = 1.5", "expires_at = 'soon'"])
    func hugeTimestamps(assignment: String) throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("a", "eyJ.a")
        try h.sqlite3(c, "UPDATE token_versions SET \(assignment);")
        // (`expiring` may simply not select the row: no crash is what matters there.)
        #expect(!c.run("expiring", "--within", "100y").signaled)
        for args in [["list"], ["history", "a"], ["show", "a"]] {
            let r = c.run(args, stdin: nil)
            #expect(r.status == 7 && !r.signaled && r.stderr.hasPrefix("error: vault is corrupt: a stored value has the wrong type (token_versions."), "\(assignment) \(args): \(r)")
        }
    }
}

@Suite("vault rekey (out of process)")
struct RekeyCLITests {
    @Test("8: rekey revokes a leaked passphrase: the old header opens nothing written since; the whole history still verifies")
    func rekeyRevokes() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("a", "eyJ.a1")
        #expect(c.run("rotate", "--force", "a", stdin: "eyJ.a2").status == 0)
        try c.add("b", "eyJ.b1")
        _ = c.run("list")  // a pending row, sealed under the old key by rekey
        let headBefore = c.run("audit", "head").out.trimmingCharacters(in: .newlines)
        let oldCopy = c.dir + "/old.db"
        #expect(c.run("backup", oldCopy).status == 0)
        let newPass = c.dir + "/new-pass"
        try setupFile(newPass, "brand new passphrase\n")
        let r = c.run("rekey", "--new-passphrase-file", newPass, "--kdf-memory", "8M", "--kdf-ops", "1")
        #expect(r.status == 0, "\(r)")
        #expect(r.out.hasPrefix("rekeyed: new master key and passphrase; 3 versions of 2 tokens re-encrypted"), "\(r)")
        let new: [String: String?] = ["V1VAULT_PASSPHRASE_FILE": newPass]
        #expect(c.run(["export", "a", "--format", "raw"], stdin: nil, env: new).out == "eyJ.a2")
        #expect(c.run(["show", "a", "--reveal", "--version", "1"], stdin: nil, env: new).out.contains("eyJ.a1"))
        #expect(c.run("export", "a").status == 3)  // the old passphrase no longer unlocks
        #expect(c.run(["add", "c", "--force"], stdin: Data("eyJ.C-AFTER-REKEY".utf8), env: new).status == 0)
        // The whole chain verifies, across the old key's rows and the new key's, and the head
        // recorded before the rekey is still in it.
        let verify = c.run(["audit", "verify", "--expect-head", headBefore], stdin: nil, env: new)
        #expect(verify.status == 0 && verify.out.hasPrefix("audit chain intact: "), "\(verify)")
        #expect(c.run(["doctor"], stdin: nil, env: new).status == 0)
        // The attacker's move: the old header (old passphrase) put back into the current file.
        try HostileFileTests().sqlite3(c, """
            ATTACH '\(oldCopy)' AS old;
            UPDATE vault_header SET kdf_salt = (SELECT kdf_salt FROM old.vault_header), kdf_ops = (SELECT kdf_ops FROM old.vault_header),
              kdf_mem = (SELECT kdf_mem FROM old.vault_header), wrap_nonce = (SELECT wrap_nonce FROM old.vault_header),
              wrapped_key = (SELECT wrapped_key FROM old.vault_header);
            """)
        for args in [["export", "c", "--format", "raw"], ["export", "a", "--format", "raw"], ["show", "a", "--reveal", "--version", "1"]] {
            let stolen = c.run(args, stdin: nil)
            #expect(stolen.status == 14 && !stolen.out.contains("eyJ"), "\(args): \(stolen)")
        }
    }

    @Test("8: an edited audit key epoch is refused; passwd's help says what it does not protect against")
    func rekeyEpochTamper() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("a", "eyJ.a1")
        #expect(c.run("rekey", "--new-passphrase-file", c.passphraseFile, "--kdf-memory", "8M", "--kdf-ops", "1").status == 0)
        #expect(c.run("audit", "verify").status == 0)
        try HostileFileTests().sqlite3(c, "UPDATE audit_key_epochs SET last_seq = last_seq - 1;")
        let r = c.run("audit", "verify")
        #expect(r.status == 7 && r.stderr.contains("failed authentication (audit_key_epochs was edited)"), "\(r)")
        let help = c.run("passwd", "--help")
        let flat = help.out.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(flat.contains("plus the old passphrase still decrypts every token") && flat.contains("use `vault rekey`"), "\(help.out)")
    }
}
