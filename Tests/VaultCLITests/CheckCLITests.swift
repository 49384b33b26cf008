import Foundation
import Testing
import TestSupport

/// A fake Vision One on 127.0.0.1 (scripts/fake-visionone.py), one per test.
final class FakeVisionOne {
    let process = Process()
    let log: String
    let port: Int

    init(dir: String) throws {
        log = dir + "/requests.jsonl"
        // Created empty now (the server appends): a missing log later means the logging broke,
        // never "no requests".
        try setupFile(log, "")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/fake-visionone.py").path
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, log]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        var line = Data()
        while !line.contains(0x0A) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line += chunk
        }
        port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Every request the server saw. An unreadable log or a line that is not a JSON object is a
    /// test failure, not a shorter list: `requests.isEmpty` must not pass because logging broke.
    var requests: [[String: Any]] {
        guard let text = try? String(contentsOfFile: log, encoding: .utf8) else {
            Issue.record("the fake Vision One's request log \(log) cannot be read")
            return []
        }
        let lines = text.split(separator: "\n")
        let parsed = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        if parsed.count != lines.count { Issue.record("\(lines.count - parsed.count) lines of \(log) are not JSON objects") }
        return parsed
    }

    // SIGKILL: children of the test runner may inherit an ignored SIGTERM.
    deinit { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
}

@Suite("vault check / --check against a local fake Vision One (out of process)")
struct CheckCLITests {
    func vault(_ server: FakeVisionOne, _ c: CLI, tokens: [String: String]) throws {
        for (name, token) in tokens.sorted(by: { $0.key < $1.key }) { try c.add(name, token, "--base-url", server.baseURL) }
    }

    @Test("each Vision One answer maps to its result, HTTP status, error code, trace id and audit row")
    func outcomes() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        let server = try FakeVisionOne(dir: c.dir)
        let tokens = ["a-ok": "eyJ.ok1", "b-401": "eyJ.e401", "c-403": "eyJ.e403", "d-429": "eyJ.e429", "e-500": "eyJ.e500", "f-redirect": "eyJ.redirect"]
        try vault(server, c, tokens: tokens)
        let r = c.run("check", "--all", "--json")
        #expect(r.status == 22, "\(r)")  // at least one rejected
        let results = try JSONSerialization.jsonObject(with: r.stdout) as! [[String: Any]]
        let byName = Dictionary(uniqueKeysWithValues: results.map { ($0["name"] as! String, $0) })
        let expected: [String: (String, Int, String?)] = [
            "a-ok": ("ok", 200, nil), "b-401": ("invalid credentials", 401, "InvalidCredentials"),
            "c-403": ("access denied", 403, "AccessDenied"), "d-429": ("rate-limited", 429, "TooManyRequests"),
            "e-500": ("server error", 500, "InternalServerError"), "f-redirect": ("unexpected response", 302, nil),
        ]
        for (name, (outcome, status, code)) in expected {
            #expect(byName[name]?["outcome"] as? String == outcome, "\(name)")
            #expect(byName[name]?["http_status"] as? Int == status, "\(name)")
            #expect(byName[name]?["error_code"] as? String == code, "\(name)")
            #expect((byName[name]?["trace_id"] as? String)?.hasPrefix("trace-\(status)") == true, "\(name)")
        }
        // The server saw each token exactly once, only as "Authorization: Bearer <token>", and the
        // redirect was not followed.
        let seen = server.requests
        #expect(seen.count == tokens.count)
        #expect(!seen.contains { $0["path"] as? String == "/elsewhere" })
        for (_, token) in tokens {
            let carrying = seen.filter { req in
                let text = String(decoding: try! JSONSerialization.data(withJSONObject: req), as: UTF8.self)
                return text.contains(token)
            }
            #expect(carrying.count == 1)
            let headers = carrying.first?["headers"] as? [String: String] ?? [:]
            #expect(headers["Authorization"] == "Bearer \(token)")
            #expect(headers.filter { $0.value.contains(token) }.count == 1)
            let path = (carrying.first?["path"] as? String) ?? ""
            #expect(path == "/v3.0/healthcheck/connectivity")
        }
        // Audited per token with outcome and status; never the token.
        let audit = c.audit(action: "check-result")
        #expect(audit.count == tokens.count)
        let b401 = audit.first { ($0["tokens"] as? [[String: Any]])?.first?["name"] as? String == "b-401" }
        #expect((b401?["details"] as? [String: String])?["http_status"] == "401" && b401?["outcome"] as? String == "error")
        let rawAudit = String(decoding: c.run("audit", "--json").stdout, as: UTF8.self)
        #expect(!tokens.values.contains { rawAudit.contains($0) })
        // Only the healthy ones: exit 0; only unreachable ones: exit 23.
        #expect(c.run("check", "a-ok").status == 0)
        #expect(c.run("check", "d-429", "e-500").status == 23)
    }

    @Test("a response that never comes is a timeout (network error, exit 23)")
    func timeout() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        let server = try FakeVisionOne(dir: c.dir)
        try vault(server, c, tokens: ["slow": "eyJ.slow"])
        let r = c.run("check", "slow", "--timeout", "1s", "--json")
        #expect(r.status == 23, "\(r)")
        let result = (try JSONSerialization.jsonObject(with: r.stdout) as! [[String: Any]])[0]
        #expect(result["outcome"] as? String == "network error" && result["message"] as? String == "timeout")
    }

    @Test("nothing listening: connection refused, exit 23")
    func refused() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", "eyJ.ok", "--base-url", "http://127.0.0.1:9")
        let r = c.run("check", "k")
        #expect(r.status == 23 && r.out.contains("network error"), "\(r)")
    }

    @Test("add --check stores a good token and refuses a rejected one; rotate --check against 401 keeps the old version")
    func verifiedAddAndRotate() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        let server = try FakeVisionOne(dir: c.dir)
        let good = c.run(["add", "--force", "k", "--base-url", server.baseURL, "--check"], stdin: Data("eyJ.ok-original".utf8))
        #expect(good.status == 0 && good.stderr.contains("checked with Vision One: ok (HTTP 200"), "\(good)")
        let bad = c.run(["add", "--force", "k2", "--base-url", server.baseURL, "--check"], stdin: Data("eyJ.e401".utf8))
        #expect(bad.status == 22 && bad.stderr.hasPrefix("error: Vision One rejected the token for k2: invalid credentials (HTTP 401, InvalidCredentials)"), "\(bad)")
        #expect(c.run("show", "k2").status == 9)
        let before = try c.snapshot()
        let rotate = c.run(["rotate", "--force", "k", "--check"], stdin: Data("eyJ.e401-new".utf8))
        #expect(rotate.status == 22, "\(rotate)")
        #expect(try c.snapshot() == before)
        #expect(c.run("export", "k", "--format", "raw").out == "eyJ.ok-original")
        let unreachable = c.run(["rotate", "--force", "k", "--check", "--timeout", "1s"], stdin: Data("eyJ.slow".utf8))
        #expect(unreachable.status == 23 && unreachable.stderr.contains("could not verify"), "\(unreachable)")
        // The error names the host it could not reach.
        #expect(unreachable.stderr.contains("(host \(URLComponents(string: server.baseURL)!.host!)"), "\(unreachable)")
        let ok = c.run(["rotate", "--force", "k", "--check"], stdin: Data("eyJ.ok-rotated".utf8))
        #expect(ok.status == 0, "\(ok)")
        #expect(c.run("export", "k", "--format", "raw").out == "eyJ.ok-rotated")
        #expect(c.audit(action: "check-new-result").map { $0["outcome"] as! String } == ["ok", "error", "error", "error", "ok"])
    }

    @Test("a plain-http URL planted in the file never receives the token (metadata MAC, exit 14)")
    func plantedURL() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        let server = try FakeVisionOne(dir: c.dir)
        try c.add("k", "eyJ.ok", "--base-url", "http://127.0.0.1:9")
        try c.sql("UPDATE tokens SET base_url = '\(server.baseURL)' WHERE name = 'k'")
        let r = c.run("check", "k")
        #expect(r.status == 14, "\(r)")
        // A control through the same server: its request is logged, and it is the only one.
        try c.add("control", "eyJ.ok-control", "--base-url", server.baseURL)
        #expect(c.run("check", "control").status == 0)
        let seen = server.requests
        #expect(seen.count == 1 && (seen.first?["headers"] as? [String: String])?["Authorization"] == "Bearer eyJ.ok-control", "\(seen)")
    }
}
