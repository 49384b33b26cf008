import Foundation
import Testing

/// The short versions of scripts/trials (the long ones: `scripts/trials crash --n 200`, …).
@Suite("reliability trials (scripts/trials, CI sizes)")
struct TrialsTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/trials").path

    func trials(_ args: String..., bin: String = CLI.binary) throws -> (status: Int32, summary: [String: Any], output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", Self.script] + args + ["--bin", bin]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        let last = text.split(separator: "\n").last.map(String.init) ?? ""
        let summary = (try? JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any]) ?? [:]
        return (p.terminationStatus, summary, text)
    }

    @Test("crash: 20 SIGKILLs during add/rotate/passwd; doctor passes and no token is lost")
    func crash() throws {
        let r = try trials("crash", "--n", "20")
        #expect(r.status == 0, "\(r.output)")
        let crash = (r.summary["results"] as? [String: Any])?["crash"] as? [String: Int]
        #expect(crash?["trials"] == 20)
        #expect((crash?["landed"] ?? 0) + (crash?["rolled_back"] ?? 0) == 20)
    }

    @Test("renew: 12 SIGKILLs of `vault renew` (each step once, 6 at random moments); the next daily run exits exactly as the step left it; 8 days later no token lost, no enabled orphan, no open intent",
          .enabled(if: CLI.debugBinary != nil, "the step kills (V1VAULT_DEBUG_KILL_AT) are compiled out of release builds: needs a debug build (V1VAULT_DEBUG_BIN)"))
    func renewCrash() throws {
        let r = try trials("renew", "--n", "12", bin: try #require(CLI.debugBinary))
        #expect(r.status == 0, "\(r.output)")
        let renew = (r.summary["results"] as? [String: Any])?["renew"] as? [String: Any] ?? [:]
        func int(_ key: String) -> Int? { renew[key] as? Int }
        #expect(int("trials") == 12 && int("killed_at_step") == 6)
        #expect((int("killed_at_random") ?? 0) + (int("completed") ?? 0) == 6)
        #expect(int("lost_tokens") == 0 && int("enabled_orphans") == 0 && int("open_intents") == 0 && int("unexpected_codes") == 0, "\(renew)")
        // The daily run right after the kill (`renew --due 30d`): each step's exact code, once each.
        let next = renew["next_run_codes"] as? [String: [String: Int]] ?? [:]
        #expect(next["renew.intent"] == ["26": 1], "intent kept while young: \(next)")
        #expect(next["renew.created"] == ["26": 1], "orphan kept, unused: \(next)")
        #expect(next["renew.sealed"] == ["0": 1], "resumed: \(next)")
        #expect(next["renew.verified"] == ["0": 1], "resumed: \(next)")
        #expect(next["renew.promoted"] == ["26": 1], "old key in grace: \(next)")
        #expect(next["renew.disabled"] == ["26": 1], "old key in grace: \(next)")
        // Random kills: counted per code; each matched what the kill left (0 only for a staged version).
        let random = next["random"] ?? [:]
        #expect(Set(random.keys).isSubset(of: ["0", "26"]) && random.values.reduce(0, +) == 6, "\(random)")
        let left = renew["random_kill_left"] as? [String: Int] ?? [:]
        #expect((random["0"] ?? 0) == (left["staged"] ?? 0), "\(random) \(left)")
        // Eight days later every step kill left something to finish (an intent, an old key in grace): 0.
        let settle = renew["settle_run_codes"] as? [String: [String: Int]] ?? [:]
        #expect(settle["step"] == ["0": 6], "\(settle)")
        #expect((settle["random"] ?? [:]).values.reduce(0, +) == 6, "\(settle)")
    }

    @Test("concurrency: 4 processes × 50 operations, none fails, all audited")
    func concurrency() throws {
        let r = try trials("concurrency", "--procs", "4", "--ops", "50")
        #expect(r.status == 0, "\(r.output)")
        let c = (r.summary["results"] as? [String: Any])?["concurrency"] as? [String: Any]
        #expect(c?["operations"] as? Int == 200 && c?["failed"] as? Int == 0)
    }

    @Test("corruption, disk full, leaks and 40+ bad inputs", arguments: ["corruption", "diskfull", "leaks", "badinput"])
    func others(trial: String) throws {
        let r = try trials(trial)
        #expect(r.status == 0, "\(trial): \(r.output)")
        #expect((r.summary["failures"] as? [Any])?.isEmpty == true)
        // The trial ran and reported (not: an empty summary, say from a script that died early).
        #expect((r.summary["results"] as? [String: Any])?[trial] != nil, "\(trial): \(r.output)")
    }
}
