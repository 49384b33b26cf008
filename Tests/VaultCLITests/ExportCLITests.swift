import Foundation
import Testing
import TestSupport

@Suite("vault export / exec (out of process)")
struct ExportCLITests {
    /// Printable, so `add` accepts it, and full of shell, JSON and dotenv metacharacters.
    static let nasty = #"eyJ'a"b$c`d\e=f#g$(id)${HOME}'\''"#

    func sh(_ script: String, _ args: [String], env: [String: String]) -> (status: Int32, out: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", script, "sh"] + args
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try! p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test("env round-trips exact bytes through sh eval")
    func envEval() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", Self.nasty, "--region", "sg")
        let r = sh(#"eval "$("$1" export k --format env)"; printf '%s|%s' "$TMV1_TOKEN" "$TMV1_URL""#, [CLI.binary], env: c.env)
        #expect(r.status == 0)
        #expect(r.out == Self.nasty + "|https://api.sg.xdr.trendmicro.com")
    }

    @Test("json round-trips through a JSON parser; --json-meta adds version, expiry and region")
    func json() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", Self.nasty, "--region", "au", "--expires", "never")
        try c.add("j", "eyJ.plain", "--region", "jp")
        let r = c.run("export", "k", "j", "--prefix", "--format", "json", "--json-meta")
        #expect(r.status == 0, "\(r)")
        let obj = try JSONSerialization.jsonObject(with: r.stdout) as! [String: Any]
        #expect(obj["K_TMV1_TOKEN"] as? String == Self.nasty)
        #expect(obj["J_TMV1_URL"] as? String == "https://api.xdr.trendmicro.co.jp")
        let meta = obj["_meta"] as! [String: [String: Any]]
        #expect(meta["k"]?["version"] as? Int == 1 && meta["k"]?["region"] as? String == "au" && meta["k"]?["expires"] is NSNull)
        let mcp = try JSONSerialization.jsonObject(with: c.run("export", "j", "--format", "json", "--names", "mcp").stdout) as! [String: String]
        #expect(mcp == ["TREND_VISION_ONE_API_KEY": "eyJ.plain"])
    }

    @Test("github: ::add-mask:: on stdout, GITHUB_ENV parsed with the runner's delimiter rules")
    func github() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", Self.nasty, "--region", "eu")
        let envFile = c.dir + "/github_env"
        try setupFile(envFile, "EXISTING=1\n", mode: 0o644)
        let r = c.run("export", "k", "--format", "github", "--names", "terraform", env: ["GITHUB_ENV": envFile])
        #expect(r.status == 0, "\(r)")
        #expect(r.out == "::add-mask::\(Self.nasty)\n")
        // The runner's parser: NAME=value lines, or NAME<<DELIM, value lines, DELIM.
        var vars: [String: String] = [:]
        var lines = try String(contentsOfFile: envFile, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).makeIterator()
        while let line = lines.next() {
            if let range = line.range(of: "<<") {
                let name = String(line[..<range.lowerBound]), delim = String(line[range.upperBound...])
                var value: [Substring] = []
                while let l = lines.next(), l != delim { value.append(l) }
                vars[name] = value.joined(separator: "\n")
            } else if let eq = line.firstIndex(of: "=") {
                vars[String(line[..<eq])] = String(line[line.index(after: eq)...])
            }
        }
        #expect(vars == ["EXISTING": "1", "VISIONONE_API_KEY": Self.nasty, "VISIONONE_REGIONAL_FQDN": "https://api.eu.xdr.trendmicro.com"])
        #expect(c.run("export", "k", "--format", "github", env: ["GITHUB_ENV": nil]).status == 64)
    }

    @Test("raw prints the token bytes only; --newline adds one")
    func raw() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", Self.nasty)
        #expect(c.run("export", "k", "--format", "raw").stdout == Data(Self.nasty.utf8))
        #expect(c.run("export", "k", "--format", "raw", "--newline").stdout == Data((Self.nasty + "\n").utf8))
        #expect(c.run("export", "k", "k2", "--format", "raw").status == 64)
    }

    @Test("dotenv round-trips JWT-alphabet tokens through python-dotenv")
    func dotenvPython() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        let jwt = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJjaWQiOiJhYmMiLCJyIjoxfQ.Zm9v-YmFy_YmF6=="
        try c.add("k", jwt, "--region", "mea")
        let file = c.dir + "/out.env"
        #expect(c.run("export", "k", "--format", "dotenv", "-o", file).status == 0)
        let py = #"import sys; from dotenv import dotenv_values; v = dotenv_values(sys.argv[1]); print(v["TMV1_TOKEN"] + "|" + v["TMV1_URL"], end="")"#
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", py, file]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "python-dotenv missing? scripts/bootstrap installs it")
        #expect(String(decoding: data, as: UTF8.self) == jwt + "|https://api.mea.xdr.trendmicro.com")
    }

    @Test("dotenv refuses values a reader would interpolate or cut", arguments: ["a$b", "a'b", "a\"b", "a#b", "a\\b", "a`b"])
    func dotenvRefuses(token: String) throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", token)
        let r = c.run("export", "k", "--format", "dotenv")
        // Nothing of the token; only the line that makes a sourcing script stop.
        #expect(r.status == 64 && r.out == "false\n", "\(r)")
        #expect(r.stderr.contains("which dotenv readers interpret differently; it cannot be written as dotenv safely"))
        #expect(c.audit(action: "export").last?["outcome"] as? String == "error")
    }

    @Test("-o writes 0600, never overwrites without --force, and --force replaces atomically")
    func outputFile() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", "tok-file")
        let file = c.dir + "/export.env"
        let r = c.run("export", "k", "-o", file)
        #expect(r.status == 0 && r.out.isEmpty, "\(r)")
        let mode = (try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as! NSNumber).intValue
        #expect(mode & 0o777 == 0o600)
        try Data("precious\n".utf8).write(to: URL(fileURLWithPath: file))
        let again = c.run("export", "k", "-o", file)
        #expect(again.status == 64 && again.stderr.contains("already exists; it was not touched"))
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "precious\n")
        #expect(c.run("export", "k", "-o", file, "--force").status == 0)
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "export TMV1_TOKEN='tok-file'\nexport TMV1_URL='https://api.xdr.trendmicro.com'\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: c.dir).filter { $0.contains(".v1vault-") }.isEmpty)
        let destinations = c.audit(action: "export").compactMap { ($0["details"] as? [String: String])?["destination"] }
        #expect(destinations.contains("file:\(file)"))
    }

    @Test("several tokens need distinct names: a collision is an error, --prefix resolves it")
    func collisions() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("a", "ta"); try c.add("b", "tb")
        let r = c.run("export", "a", "b")
        #expect(r.status == 64 && r.stderr.hasPrefix("error: variable TMV1_TOKEN would be set by both a and b\nhint: add --prefix"))
        #expect(c.run("export", "a", "b", "--prefix").out.contains("export B_TMV1_TOKEN='tb'"))
        #expect(c.run("export", "a", "--token-var", "1BAD").status == 64)
        #expect(c.run("export", "a", "--token-var", "MY_KEY", "--url-var", "MY_URL").out == "export MY_KEY='ta'\nexport MY_URL='https://api.xdr.trendmicro.com'\n")
    }

    @Test("export --all exports every token under one unlock and needs --prefix for several")
    func exportAll() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("one", "eyJ.1"); try c.add("two.b", "eyJ.2")
        #expect(c.run("export", "--all").status == 64)
        let r = c.run("export", "--all", "--prefix", "--format", "json")
        #expect(r.status == 0, "\(r)")
        let obj = try JSONSerialization.jsonObject(with: r.stdout) as! [String: String]
        #expect(obj["ONE_TMV1_TOKEN"] == "eyJ.1" && obj["TWO_B_TMV1_TOKEN"] == "eyJ.2" && obj.count == 4)
        #expect(c.audit(action: "export").last.flatMap { ($0["tokens"] as? [[String: Any]])?.count } == 2)
        #expect(c.run("export", "one", "--all").status == 64)
    }

    @Test("exec passes the command's exit status through", arguments: [Int32(0), 3, 42])
    func execStatus(code: Int32) throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", "tok")
        let r = c.run("exec", "k", "--", "sh", "-c", "exit \(code)")
        #expect(r.status == code && !r.signaled, "\(r)")
    }

    @Test("exec: 125 for vault errors, 126 not executable, 127 not found; signal deaths pass through")
    func execFailures() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", "tok")
        #expect(c.run("exec", "nosuch", "--", "true").status == 125)
        #expect(c.run("exec", "k", "--", "true", env: ["V1VAULT_PASSPHRASE_FILE": c.dir + "/missing"]).status == 125)
        #expect(c.run("exec", "--bogus-flag", "k", "--", "true").status == 125)
        // No command (a forgotten --) is a usage error, 64, with the form that works; nothing is revealed or audited.
        let forgot = c.run("exec", "k", "env")
        #expect(forgot.status == 64 && forgot.stderr == "error: no command given: the command goes after --\nhint: put -- before the command: `vault exec k -- env`\n", "\(forgot)")
        #expect(c.run("exec", "k").status == 64)
        #expect(c.run("exec", "k", "--").status == 64)
        #expect(c.audit(action: "exec").isEmpty)
        let notFound = c.run("exec", "k", "--", "definitely-not-a-command-v1v")
        #expect(notFound.status == 127 && notFound.stderr.hasPrefix("error: command not found"))
        let file = c.dir + "/not-exec"
        try setupFile(file, "#!/bin/sh\n")
        #expect(c.run("exec", "k", "--", file).status == 126)
        #expect(c.run("exec", "k", "--", c.dir).status == 126)
        // SIGKILL: the test runner may hand children a blocked or ignored SIGTERM.
        let killed = c.run("exec", "k", "--", "sh", "-c", "kill -KILL $$")
        #expect(killed.signaled && killed.status == SIGKILL, "\(killed)")
    }

    @Test("exec never uses a shell, hides the passphrase variables, and --pristine trims the environment")
    func execEnvironment() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", Self.nasty, "--region", "uk")
        let literal = c.run("exec", "k", "--", "printf", "%s\\n", "$(id)", "`id`", "a b", "--", env: ["V1VAULT_PASSPHRASE": "should-not-leak"])
        #expect(literal.out == "$(id)\n`id`\na b\n--\n", "\(literal)")
        let env = c.run("exec", "k", "--", "env", env: ["V1VAULT_PASSPHRASE": "should-not-leak", "OTHER": "kept"]).out
        #expect(env.contains("TMV1_TOKEN=\(Self.nasty)\n") && env.contains("TMV1_URL=https://api.uk.xdr.trendmicro.com\n"))
        #expect(!env.contains("V1VAULT_PASSPHRASE") && !env.contains("should-not-leak") && env.contains("OTHER=kept"))
        let pristine = c.run("exec", "k", "--pristine", "--", "env", env: ["OTHER": "dropped"]).out
        let names = Set(pristine.split(separator: "\n").map { String($0.split(separator: "=")[0]) })
        #expect(names == ["PATH", "HOME", "LANG", "TMV1_TOKEN", "TMV1_URL"], "\(pristine)")
        // The child does not inherit the vault's database descriptors.
        let fds = c.run("exec", "k", "--", "sh", "-c", "ls -l /proc/$$/fd").out
        #expect(!fds.contains("vault.db"), "\(fds)")
        let audit = c.audit(action: "exec").last
        #expect((audit?["details"] as? [String: String])?["program"]?.hasSuffix("/sh") == true)
    }

    @Test("the README's assign-then-eval pattern stops at a failed export under set -eu, as eval \"$(…)\" now does")
    func readmeEvalPattern() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", "eyJ.k.v")
        func sh(_ script: String) -> (Int32, String) { runProgram("/bin/sh", ["-c", script], env: c.env) }
        let v = CLI.binary
        let good = sh("set -eu; vars=\"$(\(v) export k --names terraform)\"; eval \"$vars\"; echo \"ran with $VISIONONE_API_KEY\"")
        #expect(good.0 == 0 && good.1 == "ran with eyJ.k.v\n", "\(good)")
        let failed = sh("set -eu; vars=\"$(\(v) export nosuch --names terraform)\"; eval \"$vars\"; echo ran")
        #expect(failed.0 == 9 && failed.1.isEmpty, "\(failed)")
        // eval "$(…)" on its own: the `false` export prints on failure stops it too.
        let direct = sh("set -eu; eval \"$(\(v) export nosuch --names terraform)\"; echo ran")
        #expect(direct.0 == 1 && direct.1.isEmpty, "\(direct)")
    }
}
