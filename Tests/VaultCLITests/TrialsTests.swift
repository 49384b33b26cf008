import Foundation
import Testing

/// The short versions of scripts/trials (the long ones: `scripts/trials crash --n 200`, …).
@Suite("reliability trials (scripts/trials, CI sizes)")
struct TrialsTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/trials").path

    func trials(_ args: String...) -> (status: Int32, summary: [String: Any], output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", Self.script] + args + ["--bin", CLI.binary]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try! p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        let last = text.split(separator: "\n").last.map(String.init) ?? ""
        let summary = (try? JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any]) ?? [:]
        return (p.terminationStatus, summary, text)
    }

    @Test("crash: 20 SIGKILLs during add/rotate/passwd; doctor passes and no token is lost")
    func crash() {
        let r = trials("crash", "--n", "20")
        #expect(r.status == 0, "\(r.output)")
        let crash = (r.summary["results"] as? [String: Any])?["crash"] as? [String: Int]
        #expect(crash?["trials"] == 20)
        #expect((crash?["landed"] ?? 0) + (crash?["rolled_back"] ?? 0) == 20)
    }

    @Test("renew: 12 SIGKILLs of `vault renew` (at step boundaries and at random), each followed by another run; no token lost, no enabled orphan")
    func renewCrash() {
        let r = trials("renew", "--n", "12")
        #expect(r.status == 0, "\(r.output)")
        let renew = (r.summary["results"] as? [String: Any])?["renew"] as? [String: Int]
        #expect(renew?["trials"] == 12 && renew?["lost_tokens"] == 0 && renew?["enabled_orphans"] == 0)
        #expect((renew?["killed_at_step"] ?? 0) + (renew?["killed_at_random"] ?? 0) + (renew?["completed"] ?? 0) == 12)
    }

    @Test("concurrency: 4 processes × 50 operations, none fails, all audited")
    func concurrency() {
        let r = trials("concurrency", "--procs", "4", "--ops", "50")
        #expect(r.status == 0, "\(r.output)")
        let c = (r.summary["results"] as? [String: Any])?["concurrency"] as? [String: Any]
        #expect(c?["operations"] as? Int == 200 && c?["failed"] as? Int == 0)
    }

    @Test("corruption, disk full, leaks and 40+ bad inputs")
    func others() {
        for trial in ["corruption", "diskfull", "leaks", "badinput"] {
            let r = trials(trial)
            #expect(r.status == 0, "\(trial): \(r.output)")
            #expect((r.summary["failures"] as? [Any])?.isEmpty == true)
        }
    }
}
