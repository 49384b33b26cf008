import Foundation
import GRDB
import Testing
@testable import VaultCore
@testable import VaultFormat
@testable import VisionOne

/// The red team's reproductions, kept as regression tests: each asserts the behaviour the
/// product promises (each failed before its fix).
@Suite("red team: renewal")
struct RedTeamTests {

    // R1 (was a finding: a rebuilt intent has token id 0, so "the key the token holds is
    // disabled" could not apply and the live key was disabled). A file writer deletes the intent
    // row from the copy: the rebuilt intent is only reported.
    @Test("R1: an intent whose row was deleted from a copy is only reported: the live key of the finished renewal stays")
    func rebuiltIntentSkipsRule5() throws {
        let f = try RenewalFixture()
        f.console.lazyLastUsed = true
        let (copy, item) = try f.finishedRenewalWithBackup()
        // The file writer: no passphrase, one DELETE.
        try DatabaseQueue(path: copy).write { try $0.execute(sql: "DELETE FROM renewal_intents") }
        try f.switchTo(copyAt: copy)
        let messages = try f.daily(disableAfter: 86400)
        let live = try #require(f.console.key(named: item.consoleName!))
        #expect(live.status == "enabled", "the finished renewal's live key was disabled: \(messages.filter { $0.contains("orphan") || $0.contains("disabled console key") })")
    }

    // R1b (was a finding: the live key was disabled and deleted). The file writer deletes the
    // intent's token (its rows) from the copy instead: an intent whose token is gone is only
    // reported.
    @Test("R1b: an intent whose token was deleted from a copy is only reported: the live key stays")
    func deletedTokenSkipsRule5() throws {
        let f = try RenewalFixture()
        f.console.lazyLastUsed = true
        let (copy, item) = try f.finishedRenewalWithBackup()
        try DatabaseQueue(path: copy).write { db in
            try db.execute(sql: "DELETE FROM token_versions WHERE token_id = (SELECT id FROM tokens WHERE name = 'siem')")
            try db.execute(sql: "DELETE FROM tokens WHERE name = 'siem'")
        }
        try f.switchTo(copyAt: copy)
        let messages = try f.daily(disableAfter: 86400)
        #expect(f.console.live.contains { $0.name == item.consoleName! && $0.status == "enabled" },
                "the finished renewal's live key was removed: \(messages.filter { $0.contains("orphan") })")
    }

    // R2. `vault restore` marks only the intents in the table verify-only: an intent whose row
    // was deleted from the backup (it is rebuilt from the audit log afterwards) is not listed.
    @Test("R2: vault restore makes verify-only also an intent whose row was deleted from the backup")
    func restoreMissesRebuiltIntent() throws {
        let f = try RenewalFixture()
        f.console.lazyLastUsed = true
        let (copy, item) = try f.renewWithBackup(disableAfter: 86400)
        try DatabaseQueue(path: copy).write { try $0.execute(sql: "DELETE FROM renewal_intents") }
        let result = try Vault.restore(from: copy, to: f.base.path, clock: f.clock.clock, actor: .test,
                                       unlock: { v in try v.unlock(passphrase: secure("pass phrase")) })
        #expect(result.verifyOnly.count == 1, "restore listed no verify-only intent")
        try f.switchTo(copyAt: f.base.path)
        try f.daily()
        let live = try #require(f.console.key(named: item.consoleName!))
        #expect(live.status == "enabled", "after a proper `vault restore`, the live key was disabled")
    }

    // R3. The `restore` row is the tail of the restored vault's log; cutting the tail keeps the
    // chain verifying and every token fresh (the row changes no token), so the verify-only
    // mark vanishes and the intent's key — the replaced vault's live key — is deleted a week later.
    @Test("R3: cutting the restore row from the audit tail does not make the restored intents actionable again")
    func truncatedRestoreRow() throws {
        let f = try RenewalFixture()
        f.console.lazyLastUsed = true
        let (copy, item) = try f.renewWithBackup(disableAfter: 86400)
        let result = try Vault.restore(from: copy, to: f.base.path, clock: f.clock.clock, actor: .test,
                                       unlock: { v in try v.unlock(passphrase: secure("pass phrase")) })
        #expect(result.verifyOnly.count == 1)
        // The file writer: drop every row from the restore row on.
        try f.base.raw().write { db in
            let seq = try Int64.fetchOne(db, sql: "SELECT min(seq) FROM audit_log WHERE action = 'restore'")!
            try db.execute(sql: "DELETE FROM audit_log WHERE seq >= ?", arguments: [seq])
            try db.execute(sql: "UPDATE sqlite_sequence SET seq = ? WHERE name = 'audit_log'", arguments: [seq - 1])
        }
        try f.switchTo(copyAt: f.base.path)
        #expect(try f.vault.verifyAudit().problem == nil)
        try f.daily()
        #expect(f.console.live.contains { $0.name == item.consoleName! && $0.status == "enabled" }, "the replaced vault's live key was removed")
    }

    // R4. disabledAt facts are keyed by token NAME from audit rows; a rename loses them, and the
    // planner falls back to retired_at: a key disabled yesterday is deleted today.
    @Test("R4: after `vault rename`, delete-after still counts from when the key was disabled")
    func renameLosesDisabledAt() throws {
        let f = try RenewalFixture()
        let renewed = try #require(try f.renew { $0.disableAfter = 86400 }.items.first)
        #expect(renewed.kind == .renewed)
        // No run for 20 days (timer stopped); then a run disables the old key.
        f.clock.advance(days: 20)
        let d = try f.due("30d") { $0.disableAfter = 86400 }
        #expect(d.items.contains { $0.kind == .disabledOld }, "\(d.items)")
        f.clock.advance(days: 1)
        try f.vault.rename("siem", to: "siem2")
        let next = try f.due("30d") { $0.disableAfter = 86400 }
        #expect(!next.items.contains { $0.kind == .deletedOld }, "deleted 1 day after it was disabled, not 7: \(next.items.map(\.kind))")
        #expect(f.console.key(f.siemID)?.deleted == false)
    }

    // R4b. The same fallback without a rename: any edit to an audit row older than every
    // token's state_seq breaks the chain (so renewalFacts returns nothing) while every token
    // still authenticates (its tail walk starts at its own state_seq). disabledAt is lost.
    @Test("R4b: with an audit chain that does not verify, no disabled key is deleted early")
    func brokenChainLosesDisabledAt() throws {
        let f = try RenewalFixture()
        _ = try f.renew { $0.disableAfter = 86400 }
        f.clock.advance(days: 20)
        _ = try f.due("30d") { $0.disableAfter = 86400 }
        #expect(f.console.key(f.siemID)?.status == "disabled")
        f.clock.advance(days: 1)
        try f.base.raw().write { try $0.execute(sql: "UPDATE audit_log SET host = 'x' WHERE seq = 1") }
        let next = try f.due("30d") { $0.disableAfter = 86400 }
        #expect(f.console.key(f.siemID)?.deleted == false, "deleted 1 day after it was disabled: \(next.items.map { "\($0.kind): \($0.message)" })")
    }

    // R13. `renew --role` accepts what `edit --role` refuses (C1 controls, bidi controls, more
    // than 256 scalars). The console gets the role; storing it fails; every later run refuses
    // the renewal (vault role != console role) and its hint is a command that is refused too.
    @Test("R13: renew refuses a --role that edit would refuse, before any call")
    func roleValidationMismatch() throws {
        let f = try RenewalFixture()
        let odd = "SIEM\u{202E}x"
        #expect(throws: VaultError.invalidInput(reason: "role contains control characters", hint: nil)) { try f.renew { $0.role = odd } }
        #expect(f.console.live.count == 2 && f.intents == 0)
    }

    // R15. recordIntent refuses an id that appears in ANY audit row's details, pending or of
    // any action. A file writer plants pending `list` rows (a kind v1vault itself leaves
    // pending, so they are even sealed later) naming the next intent ids: every renewal stops
    // with "sqlite_sequence was rewound" — and since the intent insert rolls back, forever.
    @Test("R15: a planted pending row naming the next intent id does not block renewals")
    func plantedIntentMarker() throws {
        let f = try RenewalFixture()
        try f.base.raw().write { db in
            try db.execute(sql: """
                INSERT INTO audit_log (at, action, tokens, outcome, reason, details, os_user, uid, host, pid, mac)
                VALUES ('2026-01-01T00:00:00.000Z', 'list', '[]', 'ok', NULL, '{"intent":"1"}', 'u', 1, 'h', 1, NULL)
                """)
        }
        let item = try #require(try f.renew().items.first)
        #expect(item.kind == .renewed, "\(item.message)")
    }

    // R5. A status other than exactly "enabled" counts as disabled: a later run deletes an
    // intent's key at once, without the week's wait (and without disabling it first).
    @Test("R5: an orphan whose status is neither enabled nor disabled is left alone")
    func statusCasing() throws {
        let f = try RenewalFixture()
        f.console.lazyLastUsed = true
        f.console.inject(.lostAnswer, on: .create)
        f.console.inject(.timeout, on: .list)
        _ = try f.renew()
        let orphan = try #require(f.console.live.first { $0.name.hasPrefix("siem-console-v1v") })
        f.console.setStatus(orphan.id, "Enabled")
        f.clock.advance(days: 1)
        let r = try f.renew { $0.names = []; $0.due = nil }
        #expect(r.items.map(\.kind) == [.skipped], "\(r.items.map { "\($0.kind): \($0.message)" })")
        #expect(f.console.key(orphan.id)?.deleted == false)
    }

    // R6. The retirer deletes a retired version's key unless the console says "enabled": a key
    // whose status is missing ("unknown") or spelled otherwise is deleted, though SECURITY.md
    // says only a key the console still says is disabled is.
    @Test("R6: a retired key is deleted only when the console says exactly disabled")
    func deleteUnknownStatus() throws {
        let f = try RenewalFixture()
        _ = try f.renew { $0.disableAfter = 0 }   // old key disabled at once
        #expect(f.console.key(f.siemID)?.status == "disabled")
        f.console.setStatus(f.siemID, "Active")    // re-enabled, reported under another spelling
        f.clock.advance(days: 8)
        _ = try f.due("30d")
        #expect(f.console.key(f.siemID)?.deleted == false, "deleted a key the console did not say was disabled")
    }
}

@Suite("red team: answers")
struct RedTeamAnswerTests {
    func key(_ extra: [String: Any]) -> ConsoleKey? {
        var o: [String: Any] = ["id": "d367abdd-7739-4129-a36a-862c4ec018b4", "name": "siem-v1v20260101-0a0b0c0d", "status": "enabled", "role": "SIEM"]
        for (k, v) in extra { o[k] = v }
        return ConsoleAnswers.key(o)
    }

    // R7. Rule 2 (any lastUsedDateTime after 1970 → left alone) reads only one spelling of a
    // date. Every other ISO 8601 spelling of a real use reads as "never used".
    @Test("R7: a lastUsedDateTime in any spelling reads as used", arguments: [
        "2026-01-10T10:00:00+00:00", "2026-01-10T10:00:00.000+00:00", "2026-01-10T10:00:00z", "2026-01-10 10:00:00Z",
        "2026-01-10T10:00Z", "2026-01-10T10:00:00.5+01:00",
    ])
    func lastUsedSpellings(_ s: String) {
        #expect(key(["lastUsedDateTime": s])?.usageShown == true, "\(s) → never used")
    }

    @Test("R7b: a non-string lastUsedDateTime (epoch number) reads as used")
    func lastUsedNumber() {
        #expect(key(["lastUsedDateTime": 1_767_000_000])?.usageShown == true)
    }

    // R12. A failed create element whose message contains the word "value" is not read at
    // all (the secure buffer is dropped): the definite refusal becomes an unknown outcome (the
    // intent stays a day, the role advice is lost).
    @Test("R12: a refused create whose error message says 'value' is still a definite refusal")
    func refusalMentioningValue() throws {
        var policy = ConsoleRetryPolicy()
        policy.sleep = { _ in }
        let t = ScriptedTransport([.response(status: 207, body: #"[{"status": 400, "body": {"error": {"code": "BadRequest", "message": "Invalid value for role."}}}]"#)])
        let c = HTTPConsoleClient(baseURL: "https://api.example", manager: .single(secure("eyJm.v.s")), timeout: 75, policy: policy, transport: t)
        do {
            _ = try c.create(.init(name: "n", role: "Master Administrator", months: 1, description: nil))
            Issue.record("must throw")
        } catch {
            #expect(error.definite && error.status == 400, "\(error)")
        }
    }

    // R16. When the value is not at [0].body.value, the body goes to Foundation's parser unless
    // it contains the exact bytes `value` or `\\u`: a member spelled `Value`, `token` or
    // `apiKey` (a server that differs from Trend's mock) puts the new key in ordinary heap.
    @Test("R16: a 2xx create answer without [0].body.value is never handed to the heap parser", arguments: ["Value", "token", "apiKey"])
    func secretUnderOtherName(_ member: String) throws {
        final class Capture: HTTPTransport, @unchecked Sendable {
            let body: String; var returned: Data?
            init(_ b: String) { body = b }
            func send(_ request: HTTPExchange, bearer: UnsafeRawBufferPointer,
                      secure: ((UnsafeMutableRawBufferPointer) -> Data?)?) -> Result<HTTPExchange.Response, HTTPExchange.NetworkFailure> {
                var bytes = Array(body.utf8)
                returned = bytes.withUnsafeMutableBytes { secure?($0) }
                return .success(.init(status: 207, traceID: nil, etag: nil, retryAfter: nil, location: nil, body: returned))
            }
        }
        let t = Capture(#"[{"status": 201, "body": {"id": "d367abdd-7739-4129-a36a-862c4ec018b4", "\#(member)": "eyJSECRET.key.sig", "expiredDateTime": "2027-02-06T10:00:00Z"}}]"#)
        let c = HTTPConsoleClient(baseURL: "https://api.example", manager: .single(secure("eyJm.v.s")), timeout: 75, policy: ConsoleRetryPolicy(), transport: t)
        _ = try? c.create(.init(name: "n", role: "r", months: 12, description: nil))
        let leaked = t.returned.map { String(decoding: $0, as: UTF8.self).contains("eyJSECRET") } ?? false
        #expect(!leaked, "the secret left the locked buffer for JSONSerialization")
    }

    // R8. The extractor and Foundation's parser disagree on a duplicated `body`: which key is
    // linked and which value is stored come from different members.
    @Test("R8: an answer with a member name twice is refused")
    func duplicateBody() throws {
        let body = #"[{"status": 201, "body": {"id": "aaaaaaaa-0000-4000-8000-000000000001", "value": "eyJfirst.key.sig", "expiredDateTime": "2027-02-06T10:00:00Z"}, "body": {"id": "bbbbbbbb-0000-4000-8000-000000000002", "expiredDateTime": "2027-02-06T10:00:00Z"}}]"#
        var bytes = Array(body.utf8)
        let extracted: Bool = bytes.withUnsafeMutableBytes { buf -> Bool in
            switch JSONSecretExtractor.extract(buf, path: JSONSecretExtractor.createValue) { case .some: return true; case .none: return false }
        }
        let parsed = try JSONSerialization.jsonObject(with: Data(bytes))
        let element = ConsoleAnswers.createElement(parsed)
        #expect(!extracted || element?.id == "aaaaaaaa-0000-4000-8000-000000000001",
                "value of key aaaa… would be stored linked to \(element?.id ?? "nil")")
    }
}

@Suite("red team: hints")
struct RedTeamHintTests {
    // R9. import's "already has a manager" hint interpolates the manager's name read raw
    // (unauthenticated) from the file, outside Shell.command.
    @Test("R9: import's manager hint quotes a planted name")
    func importManagerHint() throws {
        let f = Fixture()
        _ = try f.create()
        let u = try f.unlocked()
        let base = "https://api.example.invalid"
        try u.add("mgr", token: secure("eyJmanager.value.sig"), metadata: TokenMetadata(region: nil, baseURL: base, role: "API Keys Manager"), expires: nil)
        _ = try u.setManager("mgr", expectedBaseURL: nil)
        // The file writer: rename the marked row (its MAC breaks; the hint reads the raw column).
        try f.raw().write { try $0.execute(sql: "UPDATE tokens SET name = 'x$(touch PWNED)' WHERE manager = 1") }
        let entry = ImportEntry(name: "n2", token: .single(secure("eyJother.value.sig")), metadata: TokenMetadata(region: nil, baseURL: base, role: "R"),
                                expires: nil, manager: true)
        do {
            try f.unlocked().importTokens([entry])
            Issue.record("import should refuse")
        } catch {
            let hint = (error as? VaultError)?.hint ?? "\(error)"
            #expect(!hint.contains("unset x$(touch PWNED)"), "hint: \(hint)")
        }
    }
}

// R10 (legacy-born vault + tail cut to the pre-marker prefix + schema-2 downgrade) is a
// documented limitation (SECURITY.md, "Known limitations"), not a test here.

@Suite("red team: restore")
struct RedTeamRestoreTests {
    // R11. `vault restore` opens the vault it replaces as a vault (schema check, header): a
    // vault someone tampered with — the usual reason to restore — cannot be replaced, and the
    // user is left with `cp`, which skips the verify-only marking.
    @Test("R11: restore replaces a vault whose schema was tampered with, or that is corrupt, keeping it", arguments: ["trigger", "garbage"])
    func restoreOverTampered(_ how: String) throws {
        let f = Fixture()
        _ = try f.create()
        let u = try f.unlocked()
        try u.add("a", token: secure("eyJ.one"), metadata: TokenMetadata(region: nil, baseURL: "https://api.example.invalid"), expires: nil)
        let backup = f.dir.file("b.db")
        try f.open().backup(to: backup)
        if how == "trigger" {
            try f.raw().write { try $0.execute(sql: "CREATE TRIGGER t AFTER INSERT ON audit_log BEGIN SELECT 1; END") }
        } else {
            let fd = open(f.path, O_WRONLY)
            _ = "garbage, not SQLite at all".withCString { write(fd, $0, 26) }
            close(fd)
        }
        do {
            let r = try Vault.restore(from: backup, to: f.path, clock: f.clock.clock, actor: .test,
                                      unlock: { v in try v.unlock(passphrase: secure("pass phrase")) })
            #expect(r.keptAs != nil)
        } catch {
            Issue.record("restore refused: \(error)")
        }
    }
}

@Suite("red team: rate limits")
struct RedTeamRateTests {
    // R14. The run's 429 budget sums every thread's wait: two jobs waiting out one shared
    // 0.1 s pause spend 0.2 s of a 0.15 s budget, so the run gives up though it paused 0.1 s.
    @Test("R14: concurrent waits on one pause count once against the budget")
    func budgetCountsThreads() {
        var policy = ConsoleRetryPolicy()
        policy.rateLimitBudget = 0.15
        let gate = RateLimitGate(policy: policy)
        gate.pause(0.1)
        final class Box: @unchecked Sendable { let lock = NSLock(); var r: [Bool] = [] }
        let box = Box()
        let group = DispatchGroup()
        for _ in 0..<2 {
            group.enter()
            Thread.detachNewThread { let ok = gate.pass(); box.lock.withLock { box.r.append(ok) }; group.leave() }
        }
        group.wait()
        let results = box.r
        #expect(results.count == 2 && results.allSatisfy { $0 }, "\(results): the budget ran out after one 0.1 s pause")
    }
}

@Suite("red team: held")
struct RedTeamHeldTests {
    @Test("H1: a retired version's console_id edited to the manager's key: the token fails, the manager key is untouched")
    func editedRetiredConsoleID() throws {
        let f = try RenewalFixture()
        _ = try f.renew { $0.disableAfter = 86400 }
        let mgrID = try f.token("mgr").current.console.id!
        try f.base.raw().write { db in
            try db.execute(sql: "UPDATE token_versions SET console_id = ? WHERE version = 1 AND token_id = (SELECT id FROM tokens WHERE name = 'siem')", arguments: [mgrID])
        }
        f.clock.advance(days: 2)
        let r = try f.due("30d") { $0.disableAfter = 86400 }
        #expect(r.items.contains { $0.kind == .failed && $0.name == "siem" })
        #expect(f.console.key(mgrID)?.status == "enabled")
    }

    @Test("H2: import of a version linked to a key another token links is refused")
    func importSharedLink() throws {
        let f = try RenewalFixture()
        let e = ImportEntry(name: "dup", token: .single(secure("eyJdup.v.s")), metadata: TokenMetadata(region: nil, baseURL: f.console.baseURL, role: "SIEM"),
                            expires: nil, consoleID: f.siemID, consoleName: "siem-console", consoleState: "enabled")
        #expect(throws: VaultError.self) { try f.vault.importTokens([e]) }
    }

    @Test("H3: an edited console-create row (months): chain fails, the intent is never acted on")
    func editedMonths() throws {
        let f = try RenewalFixture()
        f.console.inject(.lostAnswer, on: .create)
        f.console.inject(.timeout, on: .list)
        _ = try f.renew()
        let orphan = try #require(f.console.live.first { $0.name.hasPrefix("siem-console-v1v") })
        try f.base.raw().write { try $0.execute(sql: #"UPDATE audit_log SET details = replace(details, '"months":"3"', '"months":"0"') WHERE action = 'console-create'"#) }
        f.clock.advance(days: 8)
        _ = try? f.renew { $0.names = []; $0.due = nil }
        #expect(f.console.key(orphan.id)?.deleted == false && f.console.key(orphan.id)?.status == "enabled")
    }
}
