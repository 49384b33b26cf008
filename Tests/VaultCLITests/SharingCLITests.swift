import Foundation
import GRDB
import Testing
import TestSupport

/// `vault identity`, `recipient`, `share`, `receive` out of process: every refusal's exit code
/// and line, nothing changed, and interop both ways with the reference `age` CLI.
@Suite("Sharing from the CLI")
struct SharingCLITests {
    static let ageCLI: String? = ["/usr/bin/age", "/usr/local/bin/age"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Sender A holding `siem`, receiver B trusting A, bystander C that B does not know.
    struct Pair {
        let a: CLI, b: CLI, c: CLI
        let aID: (recipient: String, key: String), bID: (recipient: String, key: String), cID: (recipient: String, key: String)

        init(trust: Bool = true) throws {
            a = try CLI.initialized(); b = try CLI.initialized(); c = try CLI.initialized()
            aID = try Self.identity(a); bID = try Self.identity(b); cID = try Self.identity(c)
            try Self.ok(a.run("recipient", "add", "host-b", bID.recipient, "--signing-key", bID.key))
            try Self.ok(a.run("recipient", "add", "host-c", cID.recipient, "--signing-key", cID.key))
            try Self.ok(b.run(["recipient", "add", "alice", aID.recipient, "--signing-key", aID.key] + (trust ? ["--trust"] : []), stdin: nil))
            try Self.ok(c.run("recipient", "add", "bob", bID.recipient, "--signing-key", bID.key, "--trust"))
            try a.add("siem", "eyJhbGciOiJIUzI1NiJ9.c2llbS1vbmU.c2lnbmF0dXJl", "--region", "eu", "--role", "SIEM")
        }

        static func identity(_ c: CLI) throws -> (recipient: String, key: String) {
            let r = c.run("identity", "--json")
            guard r.status == 0, let o = try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any],
                  let rec = o["recipient"] as? String, let key = o["signing_key"] as? String else { throw SetupError("identity: \(r)") }
            return (rec, key)
        }

        static func ok(_ r: CLI.Result) throws { guard r.status == 0 else { throw SetupError("\(r)") } }

        /// A drop of `names` from A to `to`, written to a file in A's directory.
        func drop(_ names: [String] = ["siem"], to: [String] = ["host-b"], file: String = "drop.age") throws -> String {
            let path = a.dir + "/" + file
            try? FileManager.default.removeItem(atPath: path)
            try Self.ok(a.run(["share"] + names + to.flatMap { ["--to", $0] } + ["-o", path], stdin: nil))
            return path
        }
    }

    @Test("identity prints an age recipient and a signing key; the same every time")
    func identity() throws {
        let a = try CLI.initialized()
        let r = a.run("identity")
        #expect(r.status == 0)
        let lines = r.out.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines[0].hasPrefix("recipient: age1") && lines[0].count == "recipient: ".count + 62)
        #expect(lines[1].hasPrefix("signing key: v1vsig1"))
        #expect(a.run("identity").out == r.out)
    }

    @Test("share then receive: added, then already held (exit 0 both, nothing written the second time)")
    func shareReceive() throws {
        let p = try Pair()
        let drop = try p.drop()
        let r1 = p.b.run("receive", drop)
        #expect(r1.status == 0, "\(r1)")
        #expect(r1.out == "received siem version 1 from alice (added)\n")
        #expect(p.b.run("get", "siem").out == "eyJhbGciOiJIUzI1NiJ9.c2llbS1vbmU.c2lnbmF0dXJl\n")
        let before = try p.b.snapshot()
        let r2 = p.b.run("receive", drop)
        #expect(r2.status == 0)
        #expect(r2.out == "received siem version 1 from alice (already held)\n")
        #expect(try p.b.snapshot() == before)
    }

    @Test("each bad drop gets its own exit code and one error line, and changes nothing", arguments: [
        "garbage", "truncated", "tampered", "wrong-recipient", "untrusted", "unknown-signer", "replay", "local-conflict",
    ])
    func refusals(_ kind: String) throws {
        let p = try Pair(trust: kind != "untrusted")
        var path = try p.drop()
        var expected: Int32 = 0
        var message = ""
        switch kind {
        case "garbage":
            try setupFile(path, "not an age file\n")
            expected = 30; message = "not a readable drop: not an age file"
        case "truncated":
            let d = try Data(contentsOf: URL(fileURLWithPath: path))
            try d.prefix(d.count - 10).write(to: URL(fileURLWithPath: path))
            expected = 30; message = "not a readable drop: its content is damaged"
        case "tampered":
            var d = try Data(contentsOf: URL(fileURLWithPath: path))
            d[d.count - 20] ^= 1
            try d.write(to: URL(fileURLWithPath: path))
            expected = 30; message = "not a readable drop: its content is damaged"
        case "wrong-recipient":
            path = try p.drop(to: ["host-c"])
            expected = 31; message = "not addressed to this vault: it was encrypted to other recipients"
        case "untrusted":
            expected = 33; message = "signed by recipient \"alice\", who is not trusted"
        case "unknown-signer":
            // C knows B and shares to it; B has never heard of C.
            try p.c.add("other", "eyJhbGciOiJIUzI1NiJ9.b3RoZXI.c2lnbmF0dXJl", "--region", "us")
            path = p.c.dir + "/c.age"
            try Pair.ok(p.c.run("share", "other", "--to", "bob", "-o", path))
            expected = 32; message = "signed by an unknown key \(p.cID.key)"
        case "replay":
            try Pair.ok(p.b.run("receive", path))
            try Pair.ok(p.a.run(["rotate", "siem"], stdin: Data("eyJhbGciOiJIUzI1NiJ9.c2llbS10d28.c2lnbmF0dXJl".utf8)))
            let newer = try p.drop(file: "newer.age")
            try Pair.ok(p.b.run("receive", newer))
            expected = 34; message = "\"siem\": version 1 is older than version 2 received before (a replay)"
        case "local-conflict":
            try p.b.add("siem", "eyJhbGciOiJIUzI1NiJ9.bG9jYWw.c2lnbmF0dXJl", "--region", "eu")
            expected = 35; message = "\"siem\": a key of that name exists here and was not received from alice"
        default: Issue.record("unknown case")
        }
        let before = try p.b.snapshot()
        let r = p.b.run("receive", path)
        #expect(r.status == expected, "\(r)")
        #expect(r.stderr.hasPrefix("error: \"\(path)\": \(message)"), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }.count == 1, "\(r.stderr)")
        #expect(!r.stderr.contains("c2llbS"), "a value reached stderr")
        #expect(try p.b.snapshot() == before)
        // Every refusal is audited as an error row of `receive`: this one, naming the file and its digest.
        let errors = p.b.audit(action: "receive").filter { $0["outcome"] as? String == "error" }
        #expect(errors.count == 1, "\(errors)")
        let details = errors.first?["details"] as? [String: String]
        let sha = Process.tool("/usr/bin/sha256sum", [path]).stdout.split(separator: " ").first.map(String.init)
        #expect(details?["file"] == path && details?["sha256"] == sha, "\(String(describing: details))")
    }

    static let schema6 = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/schema6")

    /// A CLI whose vault is a copy of the schema-6 fixture `name` (written by v1vault 0.3.0, e6764bb).
    static func schema6Vault(_ name: String) throws -> CLI {
        let c = try CLI(passphrase: "fixture pass phrase")
        try FileManager.default.copyItem(atPath: schema6.appendingPathComponent(name).path, toPath: c.vaultPath)
        // A checkout leaves the file 0644; v1vault refuses a vault others can read.
        guard chmod(c.vaultPath, 0o600) == 0 else { throw SetupError("chmod \(c.vaultPath)") }
        return c
    }

    @Test("vaults from schema 6 (v1vault 0.3.0): doctor says the sharing state is not sealed yet; the first sharing command seals it once (seal-sharing); sharing goes on")
    func upgradeFromSchema6() throws {
        let a = try Self.schema6Vault("alice.db"), b = try Self.schema6Vault("host-b.db")
        defer { a.cleanup(); b.cleanup() }
        let before = b.run("doctor")
        #expect(before.status == 0, "\(before)")
        #expect(before.out.contains("ok    sharing           identity opens; 1 recipients, 0 follows, 1 received keys authenticate; the sharing state is not sealed yet (a vault from schema 6: sealed at its next sharing command)\n"), "\(before.out)")
        let list = b.run("recipient", "list")
        #expect(list.status == 0, "\(list)")
        #expect(list.out.hasPrefix("NAME   TRUSTED  FOLLOWS  RECIPIENT\nalice  yes      -        age1"), "\(list.out)")
        let seals = b.audit(action: "seal-sharing")
        #expect(seals.count == 1, "\(seals)")
        #expect(seals.first?["details"] as? [String: String] == ["recipients": "1", "follows": "0", "received": "1", "sharing": "sealed"])
        let seq = try #require(seals.first?["seq"] as? Int)
        #expect(b.run("recipient", "list").status == 0)
        #expect(b.audit(action: "seal-sharing").count == 1, "sealed twice")
        let after = b.run("doctor")
        #expect(after.out.contains("the sharing state verifies and is current (audit row \(seq))\n"), "\(after.out)")
        // The sender upgrades at its share; the receiver rotates to what it sends.
        #expect(a.run(["rotate", "siem"], stdin: Data("eyJhbGciOiJIUzI1NiJ9.c2llbS10d28.c2lnbmF0dXJl".utf8)).status == 0)
        let out = a.dir + "/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        let share = a.run("share", "siem", "--followers", "--outbox", out)
        #expect(share.status == 0, "\(share)")
        #expect(a.audit(action: "seal-sharing").count == 1)
        let r = b.run("receive", out + "/host-b")
        #expect(r.status == 0, "\(r)")
        #expect(r.out == "received siem version 2 from alice (rotated: version 2 here)\n")
        #expect(b.run("get", "siem").out == "eyJhbGciOiJIUzI1NiJ9.c2llbS10d28.c2lnbmF0dXJl\n")
    }

    @Test("a vault from schema 6 whose audit log was edited is not sealed (14); nothing is written")
    func upgradeRefusedOnBrokenChain() throws {
        let b = try Self.schema6Vault("host-b.db")
        defer { b.cleanup() }
        // Pass the schema check (the migration to 7 runs at the first write), then edit row 2.
        #expect(b.run("list").status == 0)
        try b.sql("UPDATE audit_log SET details = replace(details, 'alice', 'mallory') WHERE seq = 2")
        let r = b.run("recipient", "list")
        #expect(r.status == 14, "\(r)")
        #expect(r.stderr.hasPrefix("error: sharing data failed authentication: the sharing rows are not sealed yet and the audit log does not verify (audit row 2 does not verify"), "\(r.stderr)")
        #expect(try b.rows("SELECT count(*) FROM sharing_state") == ["0"])
    }

    @Test("recipient trust: an untrusted sender's drop (33) is accepted once trusted; --revoke refuses again")
    func trustLater() throws {
        let p = try Pair(trust: false)
        let drop = try p.drop()
        let r = p.b.run("receive", drop)
        #expect(r.status == 33)
        #expect(r.stderr.hasSuffix("hint: check its signing key with its owner, then `vault recipient trust alice`\n"), "\(r.stderr)")
        #expect(p.b.run("recipient", "trust", "alice", "--signing-key", p.cID.key).status == 64)
        #expect(p.b.run("recipient", "trust", "alice").out == "trusting recipient alice: its signed drops are accepted\n")
        #expect(p.b.run("receive", drop).status == 0)
        #expect(p.b.run("recipient", "trust", "alice", "--revoke").status == 0)
        #expect(p.b.run("receive", try p.drop(file: "again.age")).status == 33)
    }

    @Test("a directory: every *.age file, one bad file does not stop the others; exit is the bad one's")
    func directory() throws {
        let p = try Pair()
        try p.a.add("soar", "eyJhbGciOiJIUzI1NiJ9.c29hcg.c2lnbmF0dXJl", "--region", "eu")
        let outbox = p.a.dir + "/outbox"
        try FileManager.default.createDirectory(atPath: outbox, withIntermediateDirectories: false)
        try Pair.ok(p.a.run("recipient", "follow", "host-b", "siem", "soar"))
        let r = p.a.run("share", "siem", "soar", "--followers", "--outbox", outbox)
        #expect(r.status == 0, "\(r)")
        let inbox = outbox + "/host-b"
        #expect(try FileManager.default.contentsOfDirectory(atPath: inbox).sorted() == ["siem.age", "soar.age"])
        try setupFile(inbox + "/junk.age", "junk")
        let got = p.b.run("receive", inbox)
        #expect(got.status == 30, "\(got)")
        #expect(got.out == "received siem version 1 from alice (added)\nreceived soar version 1 from alice (added)\n")
        #expect(p.b.run("list", "--json").out.contains("\"soar\""))
    }

    @Test("share --to X --to Y --outbox: one file per recipient and key; a FIFO in the inbox is refused (30), never waited on")
    func outboxEach() throws {
        let p = try Pair()
        try p.a.add("soar", "eyJhbGciOiJIUzI1NiJ9.c29hcg.c2lnbmF0dXJl", "--region", "eu")
        let outbox = p.a.dir + "/each"
        try FileManager.default.createDirectory(atPath: outbox, withIntermediateDirectories: false)
        try Pair.ok(p.a.run("share", "siem", "soar", "--to", "host-b", "--to", "host-c", "--outbox", outbox))
        #expect(try FileManager.default.contentsOfDirectory(atPath: outbox + "/host-b").sorted() == ["siem.age", "soar.age"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: outbox + "/host-c").sorted() == ["siem.age", "soar.age"])
        #expect(mkfifo(outbox + "/host-b/fifo.age", 0o600) == 0)
        let r = p.b.run("receive", outbox + "/host-b")
        #expect(r.status == 30, "\(r)")
        #expect(r.stderr.contains("fifo.age\": not a readable drop: not a regular file; nothing was changed"))
        #expect(r.out == "received siem version 1 from alice (added)\nreceived soar version 1 from alice (added)\n")
    }

    @Test("what share writes is an age file the reference age CLI decrypts to the signed document",
          .enabled(if: ageCLI != nil, "the reference age CLI is not installed (scripts/bootstrap installs it)"))
    func ageDecryptsShare() throws {
        let p = try Pair()
        let key = p.a.dir + "/age.key"
        let gen = Process.tool("/usr/bin/age-keygen", ["-o", key])
        #expect(gen.status == 0)
        let pub = try String(contentsOfFile: key, encoding: .utf8).split(separator: "\n").first { $0.hasPrefix("# public key: ") }!.dropFirst(14)
        try Pair.ok(p.a.run("recipient", "add", "age-user", String(pub)))
        let drop = try p.drop(to: ["age-user"])
        let out = Process.tool(Self.ageCLI!, ["-d", "-i", key, drop])
        #expect(out.status == 0, "\(out.stderr)")
        let lines = out.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.first == "v1vault-transfer 1")
        #expect(lines.contains("from \(p.aID.recipient)"))
        #expect(lines.contains("signer \(p.aID.key)"))
        #expect(lines.contains("value eyJhbGciOiJIUzI1NiJ9.c2llbS1vbmU.c2lnbmF0dXJl"))
        #expect(lines.dropLast().last?.hasPrefix("signature ") == true)
    }

    @Test("a signed document that age -r (and age -a) encrypted to this vault is received",
          .enabled(if: ageCLI != nil, "the reference age CLI is not installed (scripts/bootstrap installs it)"))
    func ageEncryptsForReceive() throws {
        let p = try Pair()
        let drop = try p.drop()   // to host-b; the document lists B as its addressee
        // Take the document out with B's own vault? No: decrypt with age requires an age identity.
        // So A also shares to B *and* an age identity; age decrypts, then re-encrypts to B only.
        let key = p.a.dir + "/age.key"
        _ = Process.tool("/usr/bin/age-keygen", ["-o", key])
        let pub = try String(contentsOfFile: key, encoding: .utf8).split(separator: "\n").first { $0.hasPrefix("# public key: ") }!.dropFirst(14)
        try Pair.ok(p.a.run("recipient", "add", "age-user", String(pub)))
        _ = drop
        let both = try p.drop(to: ["host-b", "age-user"], file: "both.age")
        let doc = p.a.dir + "/doc.txt"
        #expect(Process.tool(Self.ageCLI!, ["-d", "-i", key, "-o", doc, both]).status == 0)
        for armor in [false, true] {
            let re = p.a.dir + "/re-\(armor).age"
            #expect(Process.tool(Self.ageCLI!, (armor ? ["-a"] : []) + ["-r", p.bID.recipient, "-o", re, doc]).status == 0)
            let r = p.b.run("receive", re)
            #expect(r.status == 0, "\(r)")
            #expect(r.out == "received siem version 1 from alice (\(armor ? "already held" : "added"))\n")
        }
    }

    @Test("recipient add refuses bad input with 64 / 12 and a clear line")
    func recipientInput() throws {
        let a = try CLI.initialized()
        let b = try CLI.initialized()
        let bID = try Pair.identity(b)
        #expect(a.run("recipient", "add", "x", "age1nope").status == 64)
        #expect(a.run("recipient", "add", "x", bID.recipient, "--trust").status == 64)
        #expect(a.run("recipient", "add", "x", bID.recipient, "--signing-key", "v1vsig1nope").status == 64)
        #expect(a.run("recipient", "add", "x", bID.recipient, "--signing-key", bID.key, "--trust").status == 0)
        let dup = a.run("recipient", "add", "y", bID.recipient)
        #expect(dup.status == 12)
        #expect(dup.stderr == "error: recipient \"y\" has the same age recipient as x\n")
        let own = try Pair.identity(a)
        #expect(a.run("recipient", "add", "me", own.recipient).stderr == "error: that is this vault's own identity\n")
        #expect(a.run("recipient", "remove", "nobody").status == 9)
        let list = a.run("recipient", "list", "--json")
        #expect(list.status == 0)
        #expect(list.out.contains("\"name\":\"x\"") && list.out.contains("\"trusted\":true"))
    }
}

extension Process {
    /// Runs a tool to completion (stdout and stderr as text).
    static func tool(_ tool: String, _ args: [String]) -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        p.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        do { try p.run() } catch { return (127, "", "\(error)") }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}
