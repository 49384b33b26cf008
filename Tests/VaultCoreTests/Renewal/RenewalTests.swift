import Foundation
import Testing
@testable import VaultCore
@testable import VaultFormat

@Suite("renewal, step by step, against an in-memory console (in process)")
struct RenewalTests {
    @Test("happy path: every step in order; the new key is current and works; the old one stays enabled for the grace period")
    func happyPath() throws {
        let f = try RenewalFixture()
        let report = try f.renew { $0.disableAfter = 86400 }
        let item = try #require(report.items.first)
        #expect(report.items.count == 1 && item.kind == .renewed, "\(report.items)")
        #expect(item.steps == [.readOldKey, .recordIntent, .create, .checkAnswer, .sealStaged, .verify, .promote, .disableOld])
        #expect(item.fromVersion == 1 && item.toVersion == 2)
        #expect(item.oldKeyDisableAfter == f.clock.now.addingTimeInterval(86400))
        #expect(item.notes.count == 1 && item.notes[0].hasPrefix("IP allow-list: Vision One's API shows none"))
        let t = try f.token()
        #expect(t.current.version == 2 && t.current.console.name == item.consoleName && t.current.console.state == .enabled)
        #expect(f.console.works(try f.currentValue()))
        let new = try #require(f.console.key(named: item.consoleName!))
        let current = try f.currentValue()
        #expect(new.role == "SIEM" && new.description == "splunk" && new.value == current)
        #expect(f.console.key(f.siemID)?.status == "enabled")
        #expect(f.intents == 0)
        #expect(try f.enabledOrphans() == [])
        // Not due again the next day (the renewal loop), and the old key is still in its grace.
        f.clock.advance(days: 0.5)
        let next = try f.due("30d") { $0.disableAfter = 86400 }
        #expect(next.items.map { "\($0.kind) \($0.name ?? "")" } == ["notDue mgr", "grace siem", "notDue siem"])
        #expect(next.nothingDone)
        // After the grace period a run disables it; a week after that another deletes it.
        f.clock.advance(days: 0.6)
        let disabled = try f.due("30d") { $0.disableAfter = 86400 }
        #expect(disabled.items.filter { $0.kind == .disabledOld }.count == 1 && f.console.key(f.siemID)?.status == "disabled", "\(disabled.items)")
        f.clock.advance(days: 6.9)
        #expect(try f.due("30d").items.filter { $0.kind == .deletedOld }.isEmpty)
        f.clock.advance(days: 0.2)
        #expect(try f.due("30d").items.filter { $0.kind == .deletedOld }.count == 1)
        #expect(f.console.key(f.siemID)?.deleted == true)
    }

    @Test("an IP allow-list the console shows on the old key is named in the report: v1vault cannot copy it")
    func restriction() throws {
        let f = try RenewalFixture(restrictionFields: ["ipAllowList"])
        let item = try #require(try f.renew().items.first)
        #expect(item.kind == .renewed && item.notes == ["siem-console has ipAllowList (an IP allow-list?) that v1vault cannot copy: set the same on the new key in Administration > API Keys before the old one is disabled"])
    }

    // MARK: - Every step × every failure

    enum Expect: Equatable {
        /// The first run's item kind, the current version after it, open intents, console keys not deleted.
        case outcome(RenewReport.Item.Kind, current: Int, intents: Int, liveKeys: Int)
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var step: RenewalStep
        var call: InMemoryConsole.Call
        var fault: InMemoryConsole.Fault
        var nth = 1
        /// A second fault, injected together with the first.
        var also: (call: InMemoryConsole.Call, fault: InMemoryConsole.Fault)? = nil
        var kind: RenewReport.Item.Kind
        var current: Int
        var intents: Int
        var liveKeys: Int
        /// The version current once later runs have finished everything.
        var finalCurrent: Int
        var testDescription: String {
            "\(step.rawValue) × \(fault) on \(call)\(nth > 1 ? " #\(nth)" : "")" + (also.map { ", then \($0.fault) on \($0.call)" } ?? "")
        }
    }

    // Keys in the console at the start: the manager's and siem's (2).
    static let cases: [Case] = {
        var all: [Case] = []
        // Reading the old key: nothing has happened yet; the next run renews.
        for fault: InMemoryConsole.Fault in [.timeout, .lostAnswer, .badRequest, .unavailable, .gatewayTimeout, .rateLimited] {
            all.append(Case(step: .readOldKey, call: .get, fault: fault, kind: .failed, current: 1, intents: 0, liveKeys: 2, finalCurrent: 2))
        }
        // Create: a definite refusal made nothing (intent dropped); an unknown outcome that made
        // nothing keeps the intent a day; one that made a key has it removed in the same run.
        all.append(Case(step: .create, call: .create, fault: .timeout, kind: .failed, current: 1, intents: 1, liveKeys: 2, finalCurrent: 2))
        all.append(Case(step: .create, call: .create, fault: .unavailable, kind: .failed, current: 1, intents: 1, liveKeys: 2, finalCurrent: 2))
        all.append(Case(step: .create, call: .create, fault: .rateLimited, kind: .failed, current: 1, intents: 1, liveKeys: 2, finalCurrent: 2))
        all.append(Case(step: .create, call: .create, fault: .badRequest, kind: .failed, current: 1, intents: 0, liveKeys: 2, finalCurrent: 2))
        all.append(Case(step: .create, call: .create, fault: .failedElement, kind: .failed, current: 1, intents: 0, liveKeys: 2, finalCurrent: 2))
        all.append(Case(step: .create, call: .create, fault: .lostAnswer, kind: .failed, current: 1, intents: 0, liveKeys: 2, finalCurrent: 2))
        all.append(Case(step: .create, call: .create, fault: .gatewayTimeout, kind: .failed, current: 1, intents: 0, liveKeys: 2, finalCurrent: 2))
        // The orphan's listing fails after a lost create answer: the intent stays for the next run.
        for fault: InMemoryConsole.Fault in [.timeout, .unavailable, .rateLimited] {
            all.append(Case(step: .create, call: .create, fault: .lostAnswer, also: (.list, fault), kind: .failed, current: 1, intents: 1, liveKeys: 3, finalCurrent: 2))
        }
        // Verify: the new key is disabled, the old version stays; a later run renews again (v3).
        for fault: InMemoryConsole.Fault in [.timeout, .badRequest, .unavailable, .rateLimited, .gatewayTimeout] {
            all.append(Case(step: .verify, call: .connectivity, fault: fault, kind: .failed, current: 1, intents: 0, liveKeys: 3, finalCurrent: 3))
        }
        // Disabling the old key (no grace): renewed either way; a failure is retried by the next
        // run, a stale ETag at once; a key that cannot be edited is reported and left enabled.
        for fault: InMemoryConsole.Fault in [.timeout, .unavailable, .rateLimited, .lostAnswer, .staleETag] {
            all.append(Case(step: .disableOld, call: .update, fault: fault, kind: .renewed, current: 2, intents: 0, liveKeys: 3, finalCurrent: 2))
        }
        all.append(Case(step: .disableOld, call: .get, fault: .timeout, nth: 2, kind: .renewed, current: 2, intents: 0, liveKeys: 3, finalCurrent: 2))
        all.append(Case(step: .disableOld, call: .update, fault: .uneditable, kind: .failed, current: 2, intents: 0, liveKeys: 3, finalCurrent: 2))
        all.append(Case(step: .disableOld, call: .update, fault: .badRequest, kind: .failed, current: 2, intents: 0, liveKeys: 3, finalCurrent: 2))
        return all
    }()

    @Test("every step × every failure: the one right outcome, then later runs converge (one working key, no enabled orphan, no intent)", arguments: cases)
    func matrix(_ c: Case) throws {
        let f = try RenewalFixture()
        f.console.inject(c.fault, on: c.call, nth: c.nth)
        if let also = c.also { f.console.inject(also.fault, on: also.call) }
        let report = try f.renew()
        let item = try #require(report.items.first)
        #expect(report.items.count == 1 && item.kind == c.kind, "\(report.items)")
        #expect(item.steps.last == c.step, "\(item.steps)")
        #expect(try f.token().current.version == c.current)
        #expect(f.intents == c.intents)
        #expect(f.console.live.count == c.liveKeys, "\(f.console.live.map { "\($0.name) \($0.status)" })")
        // Whatever happened, the token has a working key right after the run.
        #expect(f.console.works(try f.currentValue()))
        // Later runs (every third day, so that a key left by a lost create answer has waited out
        // its week) finish what is left.
        f.console.clearFaults()
        for _ in 0..<3 {
            f.clock.advance(days: 3)
            _ = try f.due("30d")
        }
        let t = try f.token()
        #expect(t.current.version == c.finalCurrent)
        #expect(f.console.works(try f.currentValue()))
        #expect(f.intents == 0)
        #expect(try f.enabledOrphans() == [])
        let uneditable = c.fault == .uneditable || (c.step == .disableOld && c.fault == .badRequest)
        // The old key: disabled by now, unless the console refuses edits to it (then left enabled, reported once).
        #expect(f.console.key(f.siemID)?.status == (uneditable ? "enabled" : "disabled"))
        if uneditable {
            #expect(item.message.contains("Disable or delete siem-console by hand in Administration > API Keys"), "\(item.message)")
            f.clock.advance(days: 1)
            let again = try f.due("30d")
            #expect(again.items.allSatisfy { $0.kind == .notDue } && again.items.count == 2, "reported once: \(again.items)")
        }
    }
}
