import Foundation
import Testing

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
        let c = CLI.initialized()
        defer { c.cleanup() }
        c.add("siem", "eyJ.v1-token", "--region", "eu")
        c.add("ci", "eyJ.ci'token$")
        #expect(c.run("rotate", "--force", "siem", stdin: "eyJ.v2-token").status == 0)
        _ = c.run("show", "ci", "--reveal")
        _ = c.run("list")  // a pending (unsealed) row
        let newPass = c.dir + "/new-pass"
        precondition(FileManager.default.createFile(atPath: newPass, contents: Data("second passphrase\n".utf8), attributes: [.posixPermissions: 0o600]), "test setup: cannot create a file")
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
        // The old passphrase no longer opens it; a tampered row is caught by both implementations.
        #expect(reference(c, passphraseFile: c.passphraseFile).stderr == "reject: wrong passphrase\n")
        try c.sql("UPDATE audit_log SET host = 'elsewhere' WHERE seq = 3")
        #expect(reference(c, passphraseFile: newPass).json?["audit"] as? String == "row 3 does not verify")
        #expect(c.run("audit", "verify", env: ["V1VAULT_PASSPHRASE_FILE": newPass]).status == 20)
    }
}
