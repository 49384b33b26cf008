import Foundation
import Testing

@Suite("vault edit / rename (out of process)")
struct EditRenameCLITests {
    @Test("edit changes only the metadata and expiry it names; MACs re-sealed, audited, secrets untouched; an outsider's reader agrees")
    func edit() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", "eyJ.edit.tok", "--role", "SIEM", "--description", "old", "--permission", "a", "--expires", "30d")
        let versionsBefore = try c.rows("SELECT hex(nonce) || hex(ciphertext) FROM token_versions")
        let r = c.run("edit", "k", "--region", "eu", "--role", "", "--permission", "b", "--permission", "c", "--expires", "180d")
        #expect(r.status == 0 && r.out == "edited k\n", "\(r)")
        let shown = try JSONSerialization.jsonObject(with: c.run("show", "k", "--json").stdout) as! [String: Any]
        #expect(shown["region"] as? String == "eu" && shown["base_url"] as? String == "https://api.eu.xdr.trendmicro.com")
        #expect(shown["role"] == nil || shown["role"] is NSNull)
        #expect(shown["description"] as? String == "old" && shown["permissions"] as? [String] == ["b", "c"])
        #expect((shown["expires"] as? String)?.hasPrefix(day(180)) == true, "\(shown)")
        #expect(try c.rows("SELECT hex(nonce) || hex(ciphertext) FROM token_versions") == versionsBefore)
        #expect(c.run("export", "k", "--format", "raw").out == "eyJ.edit.tok")
        let row = try #require(c.audit(action: "edit").last)
        #expect(row["sealed"] as? Bool == true && (row["details"] as? [String: String])?["fields"] == "region,role,permissions,expires", "\(row)")
        #expect(c.run("doctor").status == 0)
        #expect(FormatSpecTests().reference(c, passphraseFile: c.passphraseFile).status == 0)
        // Custom base URL; never.
        #expect(c.run("edit", "k", "--base-url", "https://api.example.test", "--expires", "never").status == 0)
        #expect(c.run("list").out.contains("https://api.example.test"))
        // Bad input: nothing to change, both endpoints, a past date: refused, the vault unchanged.
        let before = try c.snapshot()
        for (args, status) in [(["edit", "k"], Int32(64)), (["edit", "k", "--region", "eu", "--base-url", "https://x.test"], 64),
                               (["edit", "k", "--expires", "2020-01-01"], 64), (["edit", "k", "--region", "mars"], 64),
                               (["edit", "nosuch", "--role", "x"], 9), (["edit", "k", "--base-url", "http://plain.test"], 64)] {
            let bad = c.run(args, stdin: nil)
            #expect(bad.status == status && bad.stderr.hasPrefix("error: "), "\(args): \(bad)")
        }
        #expect(try c.snapshot() == before)
    }

    @Test("rename keeps versions, secrets and history; refuses a name in use; both names audited; doctor and the outsider's reader agree")
    func rename() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("old-name", "eyJ.v1")
        #expect(c.run("rotate", "--force", "old-name", stdin: "eyJ.v2").status == 0)
        try c.add("taken", "eyJ.t")
        let r = c.run("rename", "old-name", "new-name")
        #expect(r.status == 0 && r.out == "renamed old-name to new-name\n", "\(r)")
        #expect(c.run("export", "new-name", "--format", "raw").out == "eyJ.v2")
        #expect(c.run("show", "new-name", "--version", "1", "--reveal").out.hasSuffix("token            eyJ.v1\n"))
        #expect(c.run("show", "old-name").status == 9)
        let row = try #require(c.audit(action: "rename").last)
        #expect((row["tokens"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["old-name", "new-name"])
        let clash = c.run("rename", "new-name", "taken")
        #expect(clash.status == 12 && clash.stderr.hasPrefix("error: a token named taken already exists"), "\(clash)")
        #expect(c.run("rename", "new-name", "bad name").status == 64)
        // A token later added under the old name is a different token, with its own state.
        try c.add("old-name", "eyJ.fresh")
        #expect(c.run("export", "old-name", "--format", "raw").out == "eyJ.fresh")
        #expect(c.run("doctor").status == 0)
        #expect(FormatSpecTests().reference(c, passphraseFile: c.passphraseFile).status == 0)
    }

    @Test("edit --warn-days gives one key its own warning window: list, expiring and export warnings follow it; 'default' restores the rule; MAC-covered")
    func warnDays() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("quarterly", "eyJ.q", "--expires", "90d")
        try c.add("other", "eyJ.o", "--expires", "90d")
        #expect(c.run("expiring").status == 0)
        for bad in ["abc", "5000", "-1"] {
            let r = c.run("edit", "quarterly", "--warn-days", bad)
            #expect(r.status == 64, "\(bad): \(r)")
        }
        #expect(c.run("edit", "quarterly", "--warn-days", "100").status == 0)
        let list = c.run("list", "--json")
        let rows = try JSONSerialization.jsonObject(with: list.stdout) as! [[String: Any]]
        let byName = Dictionary(uniqueKeysWithValues: rows.map { ($0["name"] as! String, $0) })
        #expect(byName["quarterly"]?["status"] as? String == "expiring" && byName["quarterly"]?["warn_days"] as? Int == 100)
        #expect(byName["other"]?["status"] as? String == "ok")
        let due = c.run("expiring")
        #expect(due.status == 10 && due.out.contains("quarterly") && !due.out.contains("other"), "\(due)")
        let export = c.run("export", "quarterly", "--format", "raw")
        #expect(export.status == 0 && export.stderr.contains("warning: token quarterly version 1 expires in 89 days"), "\(export)")
        #expect(c.run("show", "quarterly").out.contains("expiring (warns 100 days before)"))
        // A shorter own window than the default rule silences the warning.
        #expect(c.run("edit", "other", "--warn-days", "0").status == 0)
        #expect(c.run("edit", "quarterly", "--warn-days", "default").status == 0)
        #expect(c.run("expiring").status == 0)
        // The window is under the metadata MAC: clearing it outside v1vault fails closed.
        try c.sql("UPDATE tokens SET warn_days = NULL WHERE name = 'other'")
        let tampered = c.run("export", "other", "--format", "raw")
        #expect(tampered.status == 14 && tampered.out.isEmpty, "\(tampered)")
    }
}
