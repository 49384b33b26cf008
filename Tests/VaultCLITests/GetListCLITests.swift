import Foundation
import Testing

/// What pass, gopass and op users reach for: `get NAME` and `list PATTERN` (out of process).
@Suite("get and list PATTERN (out of process)")
struct GetListCLITests {
    @Test("get prints the current token and a newline (also into a pipe); -n leaves it out; audited as get")
    func get() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("siem", "eyJ.v1.tok")
        #expect(c.run(["rotate", "siem", "--force"], stdin: Data("eyJ.v2.tok".utf8)).status == 0)
        let r = c.run("get", "siem")
        #expect(r.status == 0 && r.out == "eyJ.v2.tok\n" && r.stderr == "", "\(r)")
        let bare = c.run("get", "siem", "-n")
        #expect(bare.status == 0 && bare.out == "eyJ.v2.tok", "\(bare)")
        let old = c.run("get", "siem", "--version", "1", "--no-newline")
        #expect(old.status == 0 && old.out == "eyJ.v1.tok", "\(old)")
        let rows = c.audit(action: "get")
        #expect(rows.count == 3 && rows.allSatisfy { ($0["details"] as? [String: String]) == ["destination": "stdout"] }, "\(rows)")
    }

    @Test("get of a name that is not stored: exit 9 with the did-you-mean, before any passphrase; nothing printed")
    func getMissing() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("siem-connector", "eyJ.a.b")
        let r = c.run(["get", "siem-conector"], stdin: nil, env: ["V1VAULT_PASSPHRASE_FILE": nil])
        #expect(r.status == 9 && r.out == "", "\(r)")
        #expect(r.stderr == "error: no token named \"siem-conector\"\nhint: did you mean siem-connector? (`vault list` shows the stored names)\n", "\(r)")
        #expect(c.audit(action: "get").isEmpty)
    }

    @Test("list PATTERN: a shell glob over the names, text and --json; no match is exit 0 with a note (JSON: [])")
    func listPattern() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        for name in ["siem-prod", "siem-test", "ci-scanner", "Siem-upper"] { try c.add(name, "eyJ.a.b") }
        func names(_ r: CLI.Result) -> [String] {
            r.out.split(separator: "\n").dropFirst().map { String($0.split(separator: " ")[0]) }
        }
        let glob = c.run("list", "siem*")
        #expect(glob.status == 0 && names(glob) == ["siem-prod", "siem-test"], "\(glob)")
        #expect(names(c.run("list", "*-[pt]*")) == ["siem-prod", "siem-test"])
        #expect(names(c.run("list", "?i-scanner")) == ["ci-scanner"])
        // A word without glob characters is that exact name.
        #expect(names(c.run("list", "ci-scanner")) == ["ci-scanner"])
        let json = try #require(JSONSerialization.jsonObject(with: c.run("list", "*prod", "--json").stdout) as? [[String: Any]])
        #expect(json.count == 1 && json.first?["name"] as? String == "siem-prod", "\(json)")
        let none = c.run("list", "siem")
        #expect(none.status == 0 && none.out == "", "\(none)")
        #expect(none.stderr == "no token matches siem\nhint: for names containing it: `vault list '*siem*'`\n", "\(none)")
        let noneGlob = c.run("list", "zz*")
        #expect(noneGlob.status == 0 && noneGlob.stderr == "no token matches 'zz*'\n", "\(noneGlob)")
        let noneJSON = c.run("list", "zz*", "--json")
        #expect(noneJSON.status == 0 && noneJSON.out == "[]\n" && noneJSON.stderr == "", "\(noneJSON)")
    }
}
