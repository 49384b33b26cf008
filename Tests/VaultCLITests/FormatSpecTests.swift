import Foundation
import Testing
import TestSupport

@Suite("SECURITY.md format spec (independent reader)")
struct FormatSpecTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/reference-decrypt.py").path

    func reference(_ c: CLI, passphraseFile: String) -> (status: Int32, json: [String: Any]?, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", Self.script, c.vaultPath, passphraseFile]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try! p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, try? JSONSerialization.jsonObject(with: data) as? [String: Any], String(decoding: e, as: UTF8.self))
    }

    @Test("a reader written from SECURITY.md alone decrypts every version and verifies the audit chain")
    func independentReader() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("siem", "eyJ.v1-token", "--region", "eu")
        try c.add("ci", "eyJ.ci'token$")
        #expect(c.run("rotate", "--force", "siem", stdin: "eyJ.v2-token").status == 0)
        _ = c.run("show", "ci", "--reveal")
        _ = c.run("list")  // a pending (unsealed) row
        // A sharing change (schema 7): the state names its row; rekey seals it again under the
        // new key, and the tail after it crosses the epoch boundary.
        #expect(c.run("recipient", "add", "host-a", Self.otherRecipient).status == 0)
        let sharingSeq = try #require(c.audit(action: "recipient-add").first?["seq"] as? Int)
        #expect(sharingSeq > 3)
        let newPass = c.dir + "/new-pass"
        try setupFile(newPass, "second passphrase\n")
        #expect(c.run("passwd", "--new-passphrase-file", newPass).status == 0)
        _ = c.run("list")
        // A rekey: a new master key; the reader must find the earlier audit key in its epoch.
        #expect(c.run(["rekey", "--new-passphrase-file", newPass, "--kdf-memory", "8M", "--kdf-ops", "1"], stdin: nil,
                      env: ["V1VAULT_PASSPHRASE_FILE": newPass]).status == 0)
        _ = c.run("list")
        let r = reference(c, passphraseFile: newPass)
        #expect(r.status == 0, "\(r.stderr)")
        let tokens = r.json?["tokens"] as? [String: [String: String]]
        #expect(tokens == ["siem": ["1": "eyJ.v1-token", "2": "eyJ.v2-token"], "ci": ["1": "eyJ.ci'token$"]])
        #expect(r.json?["audit"] as? String == "intact")
        #expect(r.json?["pending"] as? Int == 1)
        #expect(r.json?["sharing_state"] as? [String: Int] == ["state_seq": sharingSeq])
        #expect(r.json?["sharing"] as? [String: Int] == ["recipients": 1, "follows": 0, "received": 0])
        // The old passphrase no longer opens it; a tampered row is caught by both implementations.
        #expect(reference(c, passphraseFile: c.passphraseFile).stderr == "reject: wrong passphrase\n")
        // (Row 3 comes before the sharing state's row, so only the verdict sees it.)
        try c.sql("UPDATE audit_log SET host = 'elsewhere' WHERE seq = 3")
        #expect(reference(c, passphraseFile: newPass).json?["audit"] as? String == "row 3 does not verify")
        #expect(c.run("audit", "verify", env: ["V1VAULT_PASSPHRASE_FILE": newPass]).status == 20)
    }

    /// A call to the fake's control API (POST, JSON body); the JSON answer.
    func control(_ server: FakeVisionOne, _ path: String, _ body: String) -> [String: Any] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", """
            import sys, urllib.request as u
            r = u.urlopen(u.Request(sys.argv[1], data=sys.argv[2].encode(), headers={"Content-Type": "application/json"}))
            sys.stdout.write(r.read().decode())
            """, server.baseURL + path, body]
        let out = Pipe()
        p.standardOutput = out
        try! p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    }

    @Test("schema 5: console links, a warning window, a manager key, a staged version and a renewal intent verify under the v2 MACs")
    func consoleLinks() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        let server = try FakeVisionOne(dir: c.dir)
        let manager = control(server, "/_fake/keys", #"{"name": "mgr-key", "role": "Master Administrator", "monthsToExpiration": 12}"#)
        let siem = control(server, "/_fake/keys", #"{"name": "siem-key", "role": "SIEM", "monthsToExpiration": 3}"#)
        let managerValue = try #require(manager["value"] as? String), managerID = try #require(manager["id"] as? String)
        let siemValue = try #require(siem["value"] as? String), siemID = try #require(siem["id"] as? String)
        try c.add("mgr", managerValue, "--base-url", server.baseURL, "--console-id", managerID)
        try c.add("siem", siemValue, "--base-url", server.baseURL, "--console-id", siemID, "--console-name", "siem-key", "--role", "SIEM")
        #expect(c.run("manager", "set", "mgr").status == 0)   // metadata MAC v2: W(NULL) || 0x01
        // ci: linked by hand, a warning window, then rotated: the retired version's link keeps
        // the state MAC at v2 although the current version has none.
        try c.add("ci", "eyJ.ci-one")
        #expect(c.run("edit", "ci", "--console-id", "1234-abcd", "--console-name", "siem").status == 0)
        #expect(c.run("edit", "ci", "--warn-days", "10").status == 0)
        #expect(c.run("rotate", "--force", "ci", stdin: "eyJ.ci-two").status == 0)
        // A renewal whose new key fails the connectivity check (403, not retried): the new
        // version stays staged (retired, newer than the current one, its console key disabled).
        _ = control(server, "/_fake/faults", #"{"method": "GET", "path": "/v3.0/healthcheck/connectivity", "status": 403, "count": -1}"#)
        _ = c.run("renew", "siem")
        let siemID64 = try #require(try c.rows("SELECT CAST(id AS TEXT) FROM tokens WHERE name = 'siem'").first)
        #expect(try c.rows("SELECT version || ':' || (retired_at IS NOT NULL) || ':' || ifnull(console_state, '-') FROM token_versions WHERE token_id = \(siemID64) ORDER BY version")
                == ["1:0:enabled", "2:1:disabled"])
        // A renewal whose create fails (500: its outcome unknown) and whose clean-up cannot list
        // the keys: its intent stays.
        _ = control(server, "/_fake/faults/clear", "{}")
        _ = control(server, "/_fake/faults", #"{"method": "POST", "path": "/v3.0/iam/apiKeys", "status": 500, "count": -1}"#)
        _ = control(server, "/_fake/faults", #"{"method": "GET", "path": "/v3.0/iam/apiKeys", "status": 403, "nth": 2, "count": -1}"#)
        _ = c.run("renew", "siem")
        #expect(try c.rows("SELECT CAST(count(*) AS TEXT) FROM renewal_intents") == ["1"])

        let r = reference(c, passphraseFile: c.passphraseFile)
        #expect(r.status == 0, "\(r.stderr)")
        let tokens = r.json?["tokens"] as? [String: [String: String]]
        #expect(tokens?["ci"] == ["1": "eyJ.ci-one", "2": "eyJ.ci-two"])
        #expect(tokens?["mgr"] == ["1": managerValue])
        #expect(tokens?["siem"]?["1"] == siemValue && tokens?["siem"]?.count == 2)
        #expect(r.json?["audit"] as? String == "intact")
        #expect(r.json?["intents"] as? [String: Int] == ["authentic": 1, "failed": 0])

        // Clearing the columns makes a reader compute v1, which cannot match a v2 MAC.
        let ciV1 = "version = 1 AND token_id = (SELECT id FROM tokens WHERE name = 'ci')"
        for (edit, undo, message) in [
            ("UPDATE token_versions SET console_id = NULL, console_name = NULL, console_state = NULL WHERE \(ciV1)",
             "UPDATE token_versions SET console_id = '1234-abcd', console_name = 'siem', console_state = 'enabled' WHERE \(ciV1)",
             "reject: token ci version state failed authentication\n"),
            ("UPDATE token_versions SET console_state = 'enabled' WHERE version = 2 AND token_id = \(siemID64)",
             "UPDATE token_versions SET console_state = 'disabled' WHERE version = 2 AND token_id = \(siemID64)",
             "reject: token siem version state failed authentication\n"),
            ("UPDATE tokens SET manager = 0 WHERE name = 'mgr'", "UPDATE tokens SET manager = 1 WHERE name = 'mgr'",
             "reject: token mgr metadata failed authentication\n"),
            ("UPDATE tokens SET warn_days = NULL WHERE name = 'ci'", "UPDATE tokens SET warn_days = 10 WHERE name = 'ci'",
             "reject: token ci metadata failed authentication\n"),
        ] {
            try c.sql(edit)
            #expect(reference(c, passphraseFile: c.passphraseFile).stderr == message, "\(edit)")
            try c.sql(undo)
            #expect(reference(c, passphraseFile: c.passphraseFile).status == 0, "\(undo)")
        }
        // An intent whose MAC fails is counted, never trusted.
        try c.sql("UPDATE renewal_intents SET planned_name = planned_name || 'x'")
        #expect(reference(c, passphraseFile: c.passphraseFile).json?["intents"] as? [String: Int] == ["authentic": 0, "failed": 1])
    }
    /// What migration 0007 added, dropped again: the file looks like schema 6.
    static let dropSchema7 = """
        DROP TABLE sharing_state; DELETE FROM grdb_migrations WHERE identifier = '0007_sharing_state';
        """
    static let deletedStateRefused = "error: sharing data failed authentication: the sharing state was deleted from the file (the audit log shows it was sealed)\n"
        + corruptHint

    static let needsUpgrade = "reject: vault needs an upgrade (applied: ['0001_initial', '0002_token_metadata_mac', '0003_token_state_mac', "
    static let refusalCases: [(String, Int32, String)] = [
        // A widened CHECK: same objects, other SQL text (a check for views and triggers alone misses it).
        ("PRAGMA writable_schema = ON; UPDATE sqlite_master SET sql = replace(sql, 'BETWEEN 0 AND 3650', 'BETWEEN 0 AND 36500') WHERE name = 'tokens';",
         7, "reject: schema differs from what v1vault creates\n"),
        ("CREATE INDEX extra ON tokens(role);", 7, "reject: schema differs from what v1vault creates\n"),
        // Schema 6, exactly (what migration 0007 added, dropped again): v1vault upgrades it at any open.
        (dropSchema7, 0, needsUpgrade
            + "'0004_audit_key_epochs', '0005_console_links', '0006_sharing']); open it with a write command first\n"),
        // Schema 5, exactly (what migrations 0006 and 0007 added, dropped again).
        (dropSchema7 + """
         DROP TABLE vault_identity; DROP TABLE recipients; DROP TABLE recipient_follows; DROP TABLE received_tokens;
         DELETE FROM grdb_migrations WHERE identifier = '0006_sharing';
         """, 0, needsUpgrade
            + "'0004_audit_key_epochs', '0005_console_links']); open it with a write command first\n"),
        // Schema 4, exactly (what migrations 0005, 0006 and 0007 added, dropped again).
        (dropSchema7 + """
         DROP TABLE vault_identity; DROP TABLE recipients; DROP TABLE recipient_follows; DROP TABLE received_tokens;
         DELETE FROM grdb_migrations WHERE identifier = '0006_sharing';
         DROP INDEX tokens_one_manager; DROP TABLE renewal_intents; ALTER TABLE tokens DROP COLUMN manager;
         ALTER TABLE tokens DROP COLUMN warn_days; ALTER TABLE token_versions DROP COLUMN console_state;
         ALTER TABLE token_versions DROP COLUMN console_name; ALTER TABLE token_versions DROP COLUMN console_id;
         DELETE FROM grdb_migrations WHERE identifier = '0005_console_links';
         """, 0, needsUpgrade
            + "'0004_audit_key_epochs']); open it with a write command first\n"),
        // ci's state names audit row 3 (its add, the last row): pending, then missing.
        ("UPDATE audit_log SET mac = NULL WHERE seq = 3;", 14, "reject: token ci state names audit row 3, which is missing or not sealed\n"),
        ("DELETE FROM audit_log WHERE seq = 3;", 14, "reject: token ci state names audit row 3, which is missing or not sealed\n"),
    ]

    @Test("the outsider's reader refuses what v1vault refuses: any schema difference (a changed CHECK), a schema-4, -5 or -6 prefix (which v1vault upgrades, but the sharing state it dropped stays missing), a state_seq row missing or pending", arguments: refusalCases)
    func refusesLikeVault(edit: String, status: Int32, refusal: String) throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("siem", "eyJ.siem-token")
        try c.add("ci", "eyJ.ci-token")
        #expect(try c.rows("SELECT CAST(state_seq AS TEXT) FROM tokens WHERE name = 'ci'") == ["3"])
        #expect(reference(c, passphraseFile: c.passphraseFile).status == 0)
        try HostileFileTests().sqlite3(c, edit)
        #expect(reference(c, passphraseFile: c.passphraseFile).stderr == refusal, "\(edit)")
        let r = c.run("export", "ci")
        #expect(r.status == status, "\(edit): \(r)")
        if status == 0 {
            // Upgraded by that export: the schema is current again, but init's audit row (seq 1)
            // says this vault sealed its sharing state, which the downgrade dropped: both refuse
            // the sharing rows from now on (a downgrade cannot erase the state to put rows back).
            #expect(reference(c, passphraseFile: c.passphraseFile).stderr == "reject: the sharing state was deleted (audit row 1 sealed it)\n")
            // (Schemas 5 and 4 dropped the identity too; v1vault checks it first.)
            let list = c.run("recipient", "list")
            #expect(list.status == 14, "\(edit): \(list)")
            #expect(list.stderr == (edit.contains("DROP TABLE vault_identity")
                ? "error: sharing data failed authentication: the vault's sharing identity was deleted from the file (the audit log shows it was made)\n"
                    + Self.corruptHint
                : Self.deletedStateRefused), "\(edit)")
        }
    }

    @Test("the schema digest in SECURITY.md is the one the outsider's reader checks, its 22 rows are a new vault's sqlite_master, and it gives each migration file's SHA-256")
    func schemaDigest() throws {
        let root = URL(fileURLWithPath: Self.script).deletingLastPathComponent().deletingLastPathComponent()
        let spec = try String(contentsOf: root.appendingPathComponent("SECURITY.md"), encoding: .utf8)
        let script = try String(contentsOf: URL(fileURLWithPath: Self.script), encoding: .utf8)
        let digest = "3227637ba9ffcce385ca5bbc1a452bdfc1997030db778985d193393bdf2559c0"
        #expect(spec.contains("= \(digest)   (schema 7)"))
        #expect(script.contains("SCHEMA7_DIGEST = \"\(digest)\""))
        // Every migration file's SHA-256, as the spec gives it, and the list the reader knows.
        let migrations = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("migrations").path)
            .filter { $0.hasSuffix(".sql") }.sorted()
        #expect(migrations.count == 7)
        for file in migrations {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["sha256sum", root.appendingPathComponent("migrations/" + file).path]
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            let line = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            let sha = String(line.prefix(64))
            #expect(sha.count == 64, "\(file): \(line)")
            #expect(spec.contains("`\(file)`") && spec.contains(sha), "\(file) \(sha)")
            #expect(script.contains("\"\(file.dropLast(4))\""), "\(file)")
        }
        // "The 22 rows, exactly" are what a vault from this binary holds, in the spec's format and order.
        let c = try CLI.initialized()
        defer { c.cleanup() }
        let rows = try c.rows("""
            SELECT 'type=' || type || ' name=' || name || ' tbl_name=' || tbl_name
                   || CASE WHEN sql IS NULL THEN ' sql=NULL' ELSE char(10) || sql END
            FROM sqlite_master ORDER BY CAST(type AS BLOB), CAST(name AS BLOB)
            """)
        let start = try #require(spec.range(of: "**The 22 rows, exactly** (schema 7;"))
        let open = try #require(spec.range(of: "```\n", range: start.upperBound..<spec.endIndex))
        let close = try #require(spec.range(of: "```\n", range: open.upperBound..<spec.endIndex))
        #expect(rows.count == 22)
        #expect(rows.joined(separator: "\n\n") + "\n" == String(spec[open.upperBound..<close.lowerBound]))
    }

    // MARK: - Schema 6 (sharing)

    /// SECURITY.md's known-answer identity (secrets 01…20 and 21…40): a recipient that is not this vault.
    static let otherRecipient = "age1q73he0q5yzfu3d64msd3p6rvksnrwjk3d2598mgtmlqt9wrdr37q2vrn72"
    static let otherSigningKey = "v1vsig1ulck9ggta32e4l4pjhjde6ztd9tg6hfvkztradzxcp59u2ch7tcqf4elww"
    static let corruptHint = "hint: the vault file was modified or is corrupt; restore from a backup\n"

    @Test("schema 6: the outsider's reader opens the identity as `vault identity` shows it, and refuses, as v1vault does (exit 14), a recipient or follow whose row or MAC was edited")
    func sharingRowsEdited() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("siem", "eyJ.siem-token")
        #expect(c.run("recipient", "add", "host-a", Self.otherRecipient, "--signing-key", Self.otherSigningKey, "--trust").status == 0)
        #expect(c.run("recipient", "follow", "host-a", "siem").status == 0)
        let id = c.run("identity", "--json")
        #expect(id.status == 0, "\(id)")
        let shown = try JSONSerialization.jsonObject(with: id.stdout) as? [String: Any]
        let r = reference(c, passphraseFile: c.passphraseFile)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.json?["identity"] as? [String: String]
                == ["recipient": try #require(shown?["recipient"] as? String), "signing_key": try #require(shown?["signing_key"] as? String)])
        #expect(r.json?["sharing"] as? [String: Int] == ["recipients": 1, "follows": 1, "received": 0])
        #expect(c.run("recipient", "list").status == 0)

        let recipientMAC = try #require(try c.rows("SELECT hex(mac) FROM recipients").first)
        let followMAC = try #require(try c.rows("SELECT hex(mac) FROM recipient_follows").first)
        let recipientRefused = "error: sharing data failed authentication: recipient \"host-a\" was changed outside v1vault\n" + Self.corruptHint
        let followRefused = "error: sharing data failed authentication: a follow mark (recipient 1, token 1) was changed outside v1vault\n"
            + Self.corruptHint
        for (edit, undo, vault, reader) in [
            ("UPDATE recipients SET mac = zeroblob(32)", "UPDATE recipients SET mac = x'\(recipientMAC)'",
             recipientRefused, "reject: recipient \"host-a\" failed authentication\n"),
            ("UPDATE recipients SET trusted = 0", "UPDATE recipients SET trusted = 1",
             recipientRefused, "reject: recipient \"host-a\" failed authentication\n"),
            ("UPDATE recipients SET signing_key = (SELECT signing_public FROM vault_identity)",
             "UPDATE recipients SET signing_key = x'e7f162a10bec559afea195e4dce84b69568d5d2cb0963eb446c0685e2b17f2f0'",
             recipientRefused, "reject: recipient \"host-a\" failed authentication\n"),
            ("UPDATE recipient_follows SET mac = zeroblob(32)", "UPDATE recipient_follows SET mac = x'\(followMAC)'",
             followRefused, "reject: follow mark (recipient 1, token 1) failed authentication\n"),
        ] {
            try c.sql(edit)
            let list = c.run("recipient", "list")
            #expect(list.status == 14, "\(edit): \(list)")
            #expect(list.stderr == vault, "\(edit)")
            #expect(reference(c, passphraseFile: c.passphraseFile).stderr == reader, "\(edit)")
            try c.sql(undo)
            #expect(c.run("recipient", "list").status == 0, "\(undo)")
            #expect(reference(c, passphraseFile: c.passphraseFile).status == 0, "\(undo)")
        }
    }

    @Test("schema 6: a received mark (from a real share and receive) verifies in the outsider's reader; edited with sqlite3, both refuse it (v1vault: exit 14 at the next receive)")
    func receivedMarkEdited() throws {
        let p = try SharingCLITests.Pair()
        defer { p.a.cleanup(); p.b.cleanup(); p.c.cleanup() }
        let drop = try p.drop()
        #expect(p.b.run("receive", drop).status == 0)
        let r = reference(p.b, passphraseFile: p.b.passphraseFile)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.json?["sharing"] as? [String: Int] == ["recipients": 1, "follows": 0, "received": 1])
        #expect(r.json?["tokens"] as? [String: [String: String]] == ["siem": ["1": "eyJhbGciOiJIUzI1NiJ9.c2llbS1vbmU.c2lnbmF0dXJl"]])
        try p.b.sql("UPDATE received_tokens SET remote_version = 2")
        #expect(reference(p.b, passphraseFile: p.b.passphraseFile).stderr == "reject: the received mark of token 1 failed authentication\n")
        let again = p.b.run("receive", drop)
        #expect(again.status == 14, "\(again)")
        #expect(again.stderr == "error: sharing data failed authentication: the received mark of \"siem\" was changed outside v1vault\n" + Self.corruptHint)
    }

    @Test("schema 6: an identity row whose public key was replaced (here by another identity's) is refused by v1vault (exit 14) and by the outsider's reader", arguments: [
        "UPDATE vault_identity SET age_public = x'07a37cbc142093c8b755dc1b10e86cb426374ad16aa853ed0bdfc0b2b86d1c7c'",
        "UPDATE vault_identity SET signing_public = x'e7f162a10bec559afea195e4dce84b69568d5d2cb0963eb446c0685e2b17f2f0'",
    ])
    func identityReplaced(edit: String) throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        #expect(reference(c, passphraseFile: c.passphraseFile).status == 0)
        try c.sql(edit)
        let r = c.run("identity")
        #expect(r.status == 14, "\(r)")
        #expect(r.stderr == "error: sharing data failed authentication: the vault's sharing identity does not open (its keys were changed outside v1vault)\n"
                + Self.corruptHint)
        #expect(r.stdout.isEmpty)
        let ref = reference(c, passphraseFile: c.passphraseFile)
        #expect(ref.status == 1)
        #expect(ref.stderr == "reject: the sharing identity failed authentication\n")
    }

    // MARK: - Schema 7 (the sharing state MAC)

    /// SECURITY.md's transfer-document addressee (the X25519 key of 41…60): a second recipient.
    static let addressee = "age1vjcsrvwshedgwp9aq78e39gqrlqrar5lj530rzxaz2xes3k5s3nqxdc696"
    static let stateRefused = "error: sharing data failed authentication: a recipient, follow or received mark was added, removed or put back "
        + "outside v1vault (the sharing state does not verify)\n" + corruptHint
    static let stateReaderRefused = "reject: the sharing state failed authentication (a recipient, follow or received mark was added, removed or put back)\n"

    /// The `state_seq` of the sharing state in `file` (default: the vault), read with sqlite3.
    func stateSeq(_ c: CLI, _ file: String? = nil) throws -> Int {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["sqlite3", file ?? c.vaultPath, "SELECT state_seq FROM sharing_state"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard let n = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else { throw SetupError("state_seq of \(file ?? c.vaultPath): \(text)") }
        return n
    }

    @Test("schema 7: a removed recipient and its follow put back from an earlier copy (alone, or with the state of that copy), the state row deleted or its state_seq changed, the audit row it names pending or deleted, a later audit row edited: v1vault (exit 14 at recipient list) and the outsider's reader both refuse", arguments: [
        "put back", "put back with its state", "state deleted", "state_seq changed", "its row pending", "its row deleted", "a later row edited",
    ])
    func sharingStateEdited(edit: String) throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        #expect(reference(c, passphraseFile: c.passphraseFile).json?["sharing_state"] as? [String: Int] == ["state_seq": 1])  // init's row
        try c.add("siem", "eyJ.siem-token")
        #expect(c.run("recipient", "add", "host-a", Self.otherRecipient, "--signing-key", Self.otherSigningKey, "--trust").status == 0)
        #expect(c.run("recipient", "follow", "host-a", "siem").status == 0)
        #expect(c.run("recipient", "add", "host-b", Self.addressee).status == 0)
        let old = c.dir + "/old.db"
        #expect(c.run("backup", old).status == 0)
        let oldSeq = try stateSeq(c, old)
        let removed = c.run("recipient", "remove", "host-a")
        #expect(removed.status == 0, "\(removed)")
        let seq = try stateSeq(c)
        let removal = try #require(c.audit(action: "recipient-remove").first?["seq"] as? Int)
        #expect(seq == removal && seq > oldSeq)
        try c.add("later", "eyJ.later-token")  // a sealed row after the state's
        let later = try #require(c.audit(action: "add").first { ($0["tokens"] as? [[String: Any]])?.first?["name"] as? String == "later" }?["seq"] as? Int)
        #expect(later > seq)
        let before = reference(c, passphraseFile: c.passphraseFile)
        #expect(before.status == 0, "\(before.stderr)")
        #expect(before.json?["sharing_state"] as? [String: Int] == ["state_seq": seq])
        #expect(before.json?["sharing"] as? [String: Int] == ["recipients": 1, "follows": 0, "received": 0])

        let putBack = """
            ATTACH '\(old)' AS old;
            INSERT INTO recipients SELECT * FROM old.recipients WHERE name = 'host-a';
            INSERT INTO recipient_follows SELECT * FROM old.recipient_follows;
            """
        func tailRefused(_ problem: String) -> String {
            "error: sharing data failed authentication: the audit log after the sharing rows' last change does not verify (\(problem))\n" + Self.corruptHint
        }
        let (sql, vault, reader): (String, String, String) = switch edit {
        case "put back": (putBack, Self.stateRefused, Self.stateReaderRefused)
        case "put back with its state":
            (putBack + "DELETE FROM sharing_state; INSERT INTO sharing_state SELECT * FROM old.sharing_state;",
             "error: sharing data failed authentication: audit row \(seq) changed the sharing rows after the state stored (audit row \(oldSeq)): "
                + "they were rolled back\n" + Self.corruptHint,
             "reject: the sharing state (audit row \(oldSeq)) is older than audit row \(seq): the sharing rows were rolled back\n")
        case "state deleted": ("DELETE FROM sharing_state;", Self.deletedStateRefused, "reject: the sharing state was deleted (audit row 1 sealed it)\n")
        case "state_seq changed": ("UPDATE sharing_state SET state_seq = state_seq - 1;", Self.stateRefused, Self.stateReaderRefused)
        // v1vault says "deleted" for a pending row too (AuditChain.verify(from:)).
        case "its row pending":
            ("UPDATE audit_log SET mac = NULL WHERE seq = \(seq);", tailRefused("audit row \(seq) was deleted"),
             "reject: the sharing state names audit row \(seq), which is missing or not sealed\n")
        case "its row deleted":
            ("DELETE FROM audit_log WHERE seq = \(seq);", tailRefused("audit row \(seq) was deleted"),
             "reject: the sharing state names audit row \(seq), which is missing or not sealed\n")
        default:
            ("UPDATE audit_log SET host = 'elsewhere' WHERE seq = \(later);",
             tailRefused("audit row \(later) does not verify: it, or the row before it, was edited, inserted, reordered or deleted"),
             "reject: the audit log after the sharing state does not verify (row \(later))\n")
        }
        try HostileFileTests().sqlite3(c, sql)
        let state = try c.rows("SELECT state_seq || ':' || hex(mac) FROM sharing_state")
        let list = c.run("recipient", "list")
        #expect(list.status == 14, "\(edit): \(list)")
        #expect(list.stderr == vault, "\(edit)")
        #expect(list.out.isEmpty)
        #expect(reference(c, passphraseFile: c.passphraseFile).stderr == reader, "\(edit)")
        // Nothing was sealed over the edit: a share to the recipient put back is refused too.
        let share = c.run("share", "siem", "--to", "host-a", "-o", c.dir + "/drop.age")
        #expect(share.status == 14, "\(edit): \(share)")
        #expect(try c.rows("SELECT state_seq || ':' || hex(mac) FROM sharing_state") == state)
    }

    @Test("schema 7: an older received mark put back (alone, or with the state of that copy): v1vault refuses the replay and recipient list (exit 14), the outsider's reader refuses the vault", arguments: [false, true])
    func receivedMarkPutBack(withState: Bool) throws {
        let p = try SharingCLITests.Pair()
        defer { p.a.cleanup(); p.b.cleanup(); p.c.cleanup() }
        let first = try p.drop()
        #expect(p.b.run("receive", first).status == 0)
        let old = p.b.dir + "/old.db"
        #expect(p.b.run("backup", old).status == 0)
        let oldSeq = try stateSeq(p.b, old)
        #expect(p.a.run(["rotate", "siem"], stdin: Data("eyJhbGciOiJIUzI1NiJ9.c2llbS10d28.c2lnbmF0dXJl".utf8)).status == 0)
        let second = try p.drop(file: "second.age")
        #expect(p.b.run("receive", second).status == 0)
        let seq = try stateSeq(p.b)
        #expect(try p.b.rows("SELECT CAST(remote_version AS TEXT) FROM received_tokens") == ["2"])
        #expect(reference(p.b, passphraseFile: p.b.passphraseFile).json?["sharing_state"] as? [String: Int] == ["state_seq": seq])

        try HostileFileTests().sqlite3(p.b, """
            ATTACH '\(old)' AS old;
            DELETE FROM received_tokens; INSERT INTO received_tokens SELECT * FROM old.received_tokens;
            """ + (withState ? "DELETE FROM sharing_state; INSERT INTO sharing_state SELECT * FROM old.sharing_state;" : ""))
        #expect(try p.b.rows("SELECT CAST(remote_version AS TEXT) FROM received_tokens") == ["1"])
        let vault = withState
            ? "error: sharing data failed authentication: audit row \(seq) changed the sharing rows after the state stored (audit row \(oldSeq)): they were rolled back\n"
                + Self.corruptHint
            : Self.stateRefused
        for args in [["recipient", "list"], ["receive", first]] {
            let r = p.b.run(args, stdin: nil)
            #expect(r.status == 14, "\(args): \(r)")
            #expect(r.stderr == vault, "\(args)")
        }
        #expect(reference(p.b, passphraseFile: p.b.passphraseFile).stderr == (withState
            ? "reject: the sharing state (audit row \(oldSeq)) is older than audit row \(seq): the sharing rows were rolled back\n"
            : Self.stateReaderRefused))
    }

    @Test("schema 7: a vault from schema 6 (written by 0.3.0): the reader says it needs an upgrade; once upgraded it reads the rows as not sealed yet, and after the first sharing command their sealed state")
    func schema6Upgrade() throws {
        let b = try SharingCLITests.schema6Vault("host-b.db")
        defer { b.cleanup() }
        #expect(reference(b, passphraseFile: b.passphraseFile).stderr
                == "reject: vault needs an upgrade (applied: ['0001_initial', '0002_token_metadata_mac', '0003_token_state_mac', "
                + "'0004_audit_key_epochs', '0005_console_links', '0006_sharing']); open it with a write command first\n")
        #expect(b.run("list").status == 0)
        let upgraded = reference(b, passphraseFile: b.passphraseFile)
        #expect(upgraded.status == 0, "\(upgraded.stderr)")
        #expect(upgraded.json?["sharing_state"] as? String == "unsealed")
        #expect(upgraded.json?["sharing"] as? [String: Int] == ["recipients": 1, "follows": 0, "received": 1])
        #expect(b.run("recipient", "list").status == 0)
        let seal = try #require(b.audit(action: "seal-sharing").first?["seq"] as? Int)
        let sealed = reference(b, passphraseFile: b.passphraseFile)
        #expect(sealed.status == 0, "\(sealed.stderr)")
        #expect(sealed.json?["sharing_state"] as? [String: Int] == ["state_seq": seal])
        #expect(sealed.json?["audit"] as? String == "intact")
    }
}
