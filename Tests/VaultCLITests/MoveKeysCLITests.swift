import Foundation
import Testing

/// Moving keys between vaults (a person's vault → a service user's, README "systemd timers and
/// the passphrase"): `export --format json --json-meta` carries the console link of the
/// exported version and the manager mark, and `import --format json` restores both in its one
/// transaction — or refuses the whole file.
@Suite("moving keys with their console links and manager mark: export --json-meta → import (out of process)")
struct MoveKeysCLITests {
    static let base = "https://api.eu.xdr.trendmicro.com"
    static let mgrID = "3f2b9a4e-0000-4000-8000-00000000000a"
    static let siemID = "3f2b9a4e-0000-4000-8000-00000000000b"

    /// A fresh vault (fastest KDF); throws instead of trapping when it cannot be made.
    static func vault() throws -> CLI {
        let c = try CLI()
        let r = c.run("init", "--kdf-memory", "8M", "--kdf-ops", "1")
        try #require(r.status == 0, "init: \(r)")
        return c
    }

    static func add(_ c: CLI, _ name: String, _ token: String, _ flags: String...) throws {
        let r = c.run(["add", name, "--force"] + flags, stdin: Data(token.utf8))
        try #require(r.status == 0, "add \(name): \(r)")
    }

    /// `mgr` (manager of eu, linked), `siem` (linked, expiring in 20 days), `plain` (neither).
    static func source() throws -> CLI {
        let a = try vault()
        try add(a, "mgr", "eyJ.mgr.tok", "--region", "eu", "--role", "Key Manager", "--console-id", mgrID, "--console-name", "v1-manager")
        try add(a, "siem", "eyJ.siem.tok", "--region", "eu", "--role", "SIEM", "--expires", "20d", "--console-id", siemID, "--console-name", "siem-connector")
        try add(a, "plain", "eyJ.plain.tok", "--region", "eu")
        try #require(a.run("manager", "set", "mgr").status == 0)
        return a
    }

    static func export(_ c: CLI, _ names: [String] = ["--all"]) throws -> Data {
        let r = c.run(["export"] + names + ["--prefix", "--format", "json", "--json-meta"], stdin: nil)
        try #require(r.status == 0, "export: \(r)")
        return r.stdout
    }

    static func history(_ c: CLI, _ name: String) throws -> [[String: Any]] {
        let r = c.run("history", name, "--json")
        try #require(r.status == 0, "history: \(r)")
        return try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [[String: Any]])
    }

    @Test("_meta carries console_id, console_name, console_state and manager when set, and nothing new for a key with neither")
    func metaMembers() throws {
        let a = try Self.source()
        defer { a.cleanup() }
        let obj = try #require(try JSONSerialization.jsonObject(with: try Self.export(a)) as? [String: Any])
        let meta = try #require(obj["_meta"] as? [String: [String: Any]])
        let old: Set<String> = ["token_var", "version", "expires", "region", "base_url", "role", "description", "permissions"]
        #expect(Set(meta["plain"]?.keys.map { $0 } ?? []) == old)
        #expect(Set(meta["siem"]?.keys.map { $0 } ?? []) == old.union(["console_id", "console_name", "console_state"]))
        #expect(Set(meta["mgr"]?.keys.map { $0 } ?? []) == old.union(["console_id", "console_name", "console_state", "manager"]))
        #expect(meta["mgr"]?["console_id"] as? String == Self.mgrID && meta["mgr"]?["console_name"] as? String == "v1-manager")
        #expect(meta["mgr"]?["console_state"] as? String == "enabled" && meta["mgr"]?["manager"] as? Bool == true)
        #expect(meta["siem"]?["console_id"] as? String == Self.siemID && meta["siem"]?["console_name"] as? String == "siem-connector")
    }

    @Test("the links of the exported version, the manager mark, names, metadata and values arrive in the other vault; doctor passes")
    func roundTrip() throws {
        let a = try Self.source()
        let b = try Self.vault()
        defer { a.cleanup(); b.cleanup() }
        // The exported version is the current one: after a rotation with a new link, that link.
        let rotated = a.run(["rotate", "siem", "--force", "--console-id", "3f2b9a4e-0000-4000-8000-00000000000c", "--console-name", "siem-connector-2"],
                            stdin: Data("eyJ.siem.tok2".utf8))
        try #require(rotated.status == 0, "\(rotated)")
        let imp = b.run(["import", "-", "--format", "json"], stdin: try Self.export(a))
        #expect(imp.status == 0 && imp.out == "imported 3 tokens\n", "\(imp)")
        let shown = b.run("manager", "show", "--json")
        #expect(shown.status == 0 && shown.out == #"[{"name":"mgr","base_url":"\#(Self.base)","region":"eu"}]"# + "\n", "\(shown)")
        let mgr = try Self.history(b, "mgr"), siem = try Self.history(b, "siem"), plain = try Self.history(b, "plain")
        #expect(mgr.count == 1 && mgr[0]["console_id"] as? String == Self.mgrID && mgr[0]["console_name"] as? String == "v1-manager"
                && mgr[0]["console_state"] as? String == "enabled", "\(mgr)")
        #expect(siem.count == 1 && siem[0]["console_id"] as? String == "3f2b9a4e-0000-4000-8000-00000000000c"
                && siem[0]["console_name"] as? String == "siem-connector-2" && siem[0]["console_state"] as? String == "enabled", "\(siem)")
        #expect(plain.count == 1 && plain[0]["console_id"] == nil && plain[0]["console_name"] == nil, "\(plain)")
        for (name, value) in ["mgr": "eyJ.mgr.tok", "siem": "eyJ.siem.tok2", "plain": "eyJ.plain.tok"] {
            #expect(b.run("export", name, "--format", "raw").out == value, "\(name)")
        }
        let doctor = b.run("doctor")
        #expect(doctor.status == 0, "\(doctor)")
        let audit = b.audit(action: "import")
        #expect(audit.count == 1 && (audit[0]["details"] as? [String: String])?["manager"] == "mgr"
                && (audit[0]["details"] as? [String: String])?["linked"] == "2", "\(audit)")
    }

    @Test("a file from before the link members (no console_*, no manager) still imports, unlinked and unmarked")
    func olderFile() throws {
        let b = try Self.vault()
        defer { b.cleanup() }
        // Exactly what `export --all --prefix --format json --json-meta` wrote before.
        let old = """
            {
              "SIEM_TMV1_TOKEN": "eyJ.siem.tok",
              "SIEM_TMV1_URL": "\(Self.base)",
              "_meta": {
                "siem": {"token_var": "SIEM_TMV1_TOKEN", "version": 3, "expires": "2031-01-01T00:00:00Z", "region": "eu", "base_url": "\(Self.base)", "role": "SIEM", "description": null, "permissions": []}
              }
            }

            """
        let imp = b.run(["import", "-", "--format", "json"], stdin: Data(old.utf8))
        #expect(imp.status == 0 && imp.out == "imported 1 token\n", "\(imp)")
        let h = try Self.history(b, "siem")
        #expect(h.count == 1 && h[0]["console_id"] == nil && h[0]["console_state"] == nil && h[0]["expires"] as? String == "2031-01-01T00:00:00Z", "\(h)")
        #expect(b.run("manager", "show").status == 28)
    }

    @Test("a manager mark for a base URL that already has a manager here refuses the whole import (exit 64, vault untouched)")
    func secondManagerHere() throws {
        let a = try Self.source()
        let b = try Self.vault()
        defer { a.cleanup(); b.cleanup() }
        try Self.add(b, "their-manager", "eyJ.theirs", "--region", "eu")
        try #require(b.run("manager", "set", "their-manager").status == 0)
        let before = try b.snapshot()
        let r = b.run(["import", "-", "--format", "json"], stdin: try Self.export(a))
        #expect(r.status == 64, "\(r)")
        #expect(r.stderr == """
            error: entry 1: mgr is marked as the manager key for \(Self.base), which already has one here: their-manager
            hint: one manager per base URL; nothing was imported: `vault manager unset their-manager` first, or import without the mark and choose later with `vault manager set`

            """, "\(r)")
        #expect(try b.snapshot() == before)
        // Without the manager in the file, the rest moves and the mark stays where it was.
        let rest = b.run(["import", "-", "--format", "json"], stdin: try Self.export(a, ["siem", "plain"]))
        #expect(rest.status == 0, "\(rest)")
        #expect(b.run("manager", "show", "--json").out == #"[{"name":"their-manager","base_url":"\#(Self.base)","region":"eu"}]"# + "\n")
    }

    @Test("refused before anything is written, each with its one exact message: two managers for one base URL, a console key linked twice or already linked here, a malformed link or mark")
    func refusals() throws {
        let b = try Self.vault()
        defer { b.cleanup() }
        try Self.add(b, "held", "eyJ.held", "--region", "eu", "--console-id", "held-0001", "--console-name", "held")
        let before = try b.snapshot()
        func entry(_ name: String, _ extra: String) -> String { #"{"name":"\#(name)","token":"eyJ.\#(name)","region":"eu"\#(extra)}"# }
        let cases: [(String, String)] = [
            ("[\(entry("m1", #","manager":true"#)),\(entry("m2", #","manager":true"#))]",
             "error: entry 2: m1 and m2 are both marked as the manager key for \(Self.base)\nhint: one manager per base URL: remove \"manager\": true from one of them; nothing was imported\n"),
            ("[\(entry("x", #","console_id":"held-0001""#))]",
             "error: entry 1: console key held-0001 is already linked to held\nhint: each console key belongs to one token; check the id in Administration > API Keys; nothing was imported\n"),
            ("[\(entry("x", #","console_id":"k-1""#)),\(entry("y", #","console_id":"k-1""#))]",
             "error: entry 2: console key k-1 is already linked to x\nhint: each console key belongs to one token; check the id in Administration > API Keys; nothing was imported\n"),
            ("[\(entry("x", #","console_id":"../apiKeys""#))]",
             "error: entry 1: invalid console id \"../apiKeys\"\nhint: the id shown in Administration > API Keys (a UUID)\n"),
            ("[\(entry("x", #","console_id":"k-2","console_state":"gone""#))]", "error: entry 1: console_state must be enabled, disabled or deleted\n"),
            ("[\(entry("x", #","console_state":"enabled""#))]", "error: entry 1: console_state without console_id\n"),
            ("[\(entry("x", #","manager":1"#))]", "error: entry 1: manager must be true or false\n"),
            ("[\(entry("x", #","console_id":7"#))]", "error: entry 1: console_id must be a string\n"),
        ]
        for (input, message) in cases {
            let r = b.run(["import", "-", "--format", "json"], stdin: Data(input.utf8))
            #expect(r.status == 64 && r.stderr == message, "\(input)\n\(r)")
        }
        #expect(try b.snapshot() == before)
        // add refuses that id too (its option parser words it for the flag).
        let viaAdd = b.run(["add", "z", "--force", "--console-id", "../apiKeys"], stdin: Data("eyJ.z".utf8))
        #expect(viaAdd.status == 64, "\(viaAdd)")
        // A state other than enabled is kept as given (a key disabled in the console stays so).
        let disabled = b.run(["import", "-", "--format", "json"], stdin: Data("[\(entry("d", #","console_id":"k-3","console_state":"disabled""#))]".utf8))
        #expect(disabled.status == 0, "\(disabled)")
        #expect(try Self.history(b, "d").first?["console_state"] as? String == "disabled")
    }
}
