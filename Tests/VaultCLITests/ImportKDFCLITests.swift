import Foundation
import GRDB
import Testing
import TestSupport

@Suite("vault import / kdf (out of process)")
struct ImportKDFCLITests {
    @Test("import dotenv and json files and stdin; errors name the line; nothing lands on error")
    func importFiles() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        let env = c.dir + "/keys.env"
        try setupFile(env, "a=eyJ.a\nb=eyJ.b\n")
        let r = c.run("import", env, "--region", "ca", "--expires", "180d", "--role", "CI")
        #expect(r.status == 0 && r.out == "imported 2 tokens\n", "\(r)")
        #expect(r.stderr.contains("still holds the plaintext tokens"))
        let list = try JSONSerialization.jsonObject(with: c.run("list", "--json").stdout) as! [[String: Any]]
        #expect(list.map { $0["region"] as! String } == ["ca", "ca"] && list.allSatisfy { $0["role"] as? String == "CI" })
        let json = #"[{"name":"j","token":"eyJ.j","region":"za"}]"#
        #expect(c.run(["import", "-", "--format", "json"], stdin: Data(json.utf8)).status == 0)
        #expect(c.run("export", "j", "--format", "raw").out == "eyJ.j")
        let before = try c.snapshot()
        let bad = c.run(["import", "-"], stdin: Data("x=eyJ.x\ny=has space\n".utf8))
        #expect(bad.status == 64 && bad.stderr.hasPrefix("error: line 2: invalid token: contains whitespace at byte 4"), "\(bad)")
        let dup = c.run(["import", "-"], stdin: Data("x=eyJ.x\na=eyJ.again\n".utf8))
        #expect(dup.status == 64 && dup.stderr.hasPrefix("error: line 2: a token named a already exists"), "\(dup)")
        #expect(try c.snapshot() == before)
        #expect(c.audit(action: "import").map { $0["outcome"] as! String } == ["ok", "ok", "error"])
    }

    @Test("kdf set changes the parameters without touching tokens; init --kdf-time stores its target")
    func kdf() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", "eyJ.kdf")
        let tokensBefore = try c.snapshot().dropFirst()
        let r = c.run("kdf", "set", "--kdf-memory", "16M", "--kdf-ops", "2")
        #expect(r.status == 0 && r.out == "KDF set: argon2id, memory 16M, ops 2\n", "\(r)")
        #expect(Array(try c.snapshot().dropFirst()) == Array(tokensBefore))
        #expect(c.run("export", "k", "--format", "raw").out == "eyJ.kdf")
        #expect(c.run("doctor", "--no-unlock").out.contains("argon2id13, memory 16M, ops 2"))
        #expect(c.run("kdf", "set").status == 64)
        #expect(c.run("kdf", "set", "--kdf-memory", "16G").status == 64)

        let d = try CLI()
        defer { d.cleanup() }
        let cal = d.run("init", "--kdf-time", "40ms", "--kdf-memory", "8M")
        #expect(cal.status == 0 && cal.stderr.contains("picked ops"), "\(cal)")
        let q = try DatabaseQueue(path: d.vaultPath)
        #expect(try q.read { db in try Int.fetchOne(db, sql: "SELECT kdf_target_ms FROM vault_header") } == 40)
        try q.close()
    }

    @Test("kdf benchmark prints a row per setting")
    func benchmark() throws {
        let c = try CLI()
        defer { c.cleanup() }
        let r = c.run("kdf", "benchmark", "--kdf-memory", "8M", "--max-ops", "2")
        #expect(r.status == 0)
        #expect(r.out.split(separator: "\n").count == 3 && r.out.hasPrefix("MEMORY  OPS  TIME"), "\(r)")
    }

    @Test("export --all --format json --json-meta imports back into another vault with every name, token and piece of metadata")
    func roundTrip() throws {
        let a = try CLI.initialized(), b = try CLI.initialized()
        defer { a.cleanup(); b.cleanup() }
        try a.add("siem", "eyJ.siem.tok", "--region", "eu", "--role", "SIEM", "--description", "connector \"prod\"", "--permission", "alerts", "--permission", "oat", "--expires", "90d")
        try a.add("custom", "eyJ.custom.tok", "--base-url", "https://api.example.test", "--expires", "never")
        try a.add("plain", "eyJ.plain.tok")
        let file = a.dir + "/all.json"
        #expect(a.run("export", "--all", "--prefix", "--format", "json", "--json-meta", "-o", file).status == 0)
        let imp = b.run("import", file, "--format", "json")
        #expect(imp.status == 0 && imp.out.contains("imported 3 tokens"), "\(imp)")
        func view(_ c: CLI) throws -> [[String: Any]] {
            try (JSONSerialization.jsonObject(with: c.run("list", "--json").stdout) as! [[String: Any]]).map { t in
                t.filter { ["name", "region", "base_url", "role", "description", "permissions", "expires"].contains($0.key) }
            }
        }
        let (va, vb) = (try view(a), try view(b))
        #expect(va.count == 3 && NSArray(array: va).isEqual(to: vb), "\(va)\n\(vb)")
        for name in ["siem", "custom", "plain"] {
            #expect(b.run("export", name, "--format", "raw").out == a.run("export", name, "--format", "raw").out)
        }
    }

    @Test("export --all --format json --json-meta needs no --prefix: prefixed variables, and `import -` takes it back through a pipe")
    func jsonMetaWithoutPrefix() throws {
        let a = try CLI.initialized(), b = try CLI.initialized()
        defer { a.cleanup(); b.cleanup() }
        try a.add("siem", "eyJ.siem.tok", "--region", "eu")
        try a.add("ci-scanner", "eyJ.ci.tok")
        let r = a.run("export", "--all", "--format", "json", "--json-meta")
        #expect(r.status == 0 && r.stderr == "", "\(r)")
        let object = try #require(JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        #expect(object["SIEM_TMV1_TOKEN"] as? String == "eyJ.siem.tok" && object["CI_SCANNER_TMV1_TOKEN"] as? String == "eyJ.ci.tok", "\(r.out)")
        #expect(object["SIEM_TMV1_URL"] as? String == "https://api.eu.xdr.trendmicro.com", "\(r.out)")
        let imp = b.run(["import", "-", "--format", "json"], stdin: r.stdout)
        #expect(imp.status == 0 && imp.out == "imported 2 tokens\n", "\(imp)")
        for name in ["siem", "ci-scanner"] {
            #expect(b.run("export", name, "--format", "raw").out == a.run("export", name, "--format", "raw").out)
        }
        // Without --json-meta the clash is still refused: a plain JSON object cannot name the tokens.
        let plain = a.run("export", "--all", "--format", "json")
        #expect(plain.status == 64 && plain.stderr.hasPrefix("error: variable TMV1_TOKEN would be set by both "), "\(plain)")
    }

    @Test("import refuses what is plainly export output: a dotenv export (URL lines) and a JSON export without --json-meta (exit 64, vault untouched)")
    func exportOutputRefused() throws {
        let a = try CLI.initialized()
        defer { a.cleanup() }
        try a.add("siem", "eyJ.siem.tok", "--region", "eu")
        let before = try a.snapshot()
        let env = a.dir + "/siem.env"
        #expect(a.run("export", "siem", "--format", "dotenv", "-o", env).status == 0)
        let r = a.run("import", env)
        #expect(r.status == 64 && r.stderr.hasPrefix("error: line 2: \"TMV1_URL\" holds a URL, not a key: this looks like `vault export` output\nhint: to move keys"), "\(r)")
        let json = a.dir + "/siem.json"
        #expect(a.run("export", "siem", "--format", "json", "-o", json).status == 0)
        let j = a.run("import", json, "--format", "json")
        #expect(j.status == 64 && j.stderr.hasPrefix("error: this looks like `vault export --format json` output without --json-meta"), "\(j)")
        #expect(try a.snapshot() == before)
    }
}
