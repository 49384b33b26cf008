import Foundation
import Testing
import TestSupport

@Suite("for scripts: --json results, --quiet, compact JSON (out of process)")
struct ScriptingCLITests {
    func object(_ r: CLI.Result) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any], "\(r)")
    }

    @Test("add, rotate, rollback, remove and import print one JSON object with --json")
    func jsonResults() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        let add = try object(c.run(["add", "k", "--region", "eu", "--expires", "never", "--json"], stdin: Data("eyJ.k.1".utf8)))
        #expect(add["name"] as? String == "k" && add["version"] as? Int == 1 && add["region"] as? String == "eu" && add["expires"] is NSNull)
        let rot = try object(c.run(["rotate", "--force", "k", "--json"], stdin: Data("eyJ.k.2".utf8)))
        #expect((rot["current"] as? [String: Any])?["version"] as? Int == 2 && (rot["previous"] as? [String: Any])?["version"] as? Int == 1)
        #expect(rot["pruned"] as? [Int] == [] && rot["exported_files"] as? [String] == [] && rot["wal_purged"] as? Bool == true)
        let back = try object(c.run("rollback", "k", "--to", "1", "--json"))
        #expect((back["current"] as? [String: Any])?["version"] as? Int == 3)
        let file = c.dir + "/in.env"
        try setupFile(file, "a=eyJ.a.a\nb=eyJ.b.b\n")
        let imp = try object(c.run("import", file, "--json"))
        #expect(imp["imported"] as? Int == 2 && imp["names"] as? [String] == ["a", "b"])
        let rm = try object(c.run("remove", "k", "--yes", "--json"))
        #expect(rm["name"] as? String == "k" && rm["versions"] as? Int == 3)
        // Every JSON result is one line: what jq and line-oriented tools expect.
        for args in [["list", "--json"], ["show", "a", "--json"], ["history", "a", "--json"], ["audit", "--json"], ["status", "--json"]] {
            let out = c.run(args, stdin: nil).out
            #expect(out.hasSuffix("\n") && out.dropLast().split(separator: "\n").count == 1, "\(args): \(out)")
            #expect((try? JSONSerialization.jsonObject(with: Data(out.utf8))) != nil, "\(args)")
        }
    }

    @Test("--quiet: no confirmations, notes or hints; results, warnings and errors stay")
    func quiet() throws {
        let c = try CLI()
        defer { c.cleanup() }
        let initq = c.run("-q", "init", "--kdf-memory", "8M", "--kdf-ops", "1")
        #expect(initq.status == 0 && initq.out.isEmpty && !initq.stderr.contains("next:"), "\(initq)")
        // The KDF warning is a warning: it stays.
        #expect(initq.stderr.hasPrefix("warning: KDF parameters"))
        let add = c.run(["--quiet", "add", "k"], stdin: Data("  eyJ.q.q\n".utf8))
        #expect(add.status == 0 && add.out.isEmpty && add.stderr.isEmpty, "\(add)")
        let rot = c.run(["rotate", "--force", "k", "-q"], stdin: Data("eyJ.q.r".utf8))
        #expect(rot.status == 0 && rot.out.isEmpty && rot.stderr.isEmpty, "\(rot)")
        #expect(c.run("-q", "export", "k", "--format", "raw").out == "eyJ.q.r")
        #expect(c.run("-q", "list").out.contains("k "))
        let err = c.run("-q", "show", "nosuch")
        #expect(err.status == 9 && err.stderr.hasPrefix("error: no token named \"nosuch\"\nhint: "), "\(err)")
    }
}
