import Foundation
import GRDB
import Testing
import TestSupport
@testable import VaultCore
@testable import VaultFormat
@testable import VaultStorage

/// The sharing state MAC (schema 7): each sharing row has its own MAC, but only the state ties
/// them to the audit log, so an older authentic copy of a row cannot be put back (red team F2, #24).
@Suite("Sharing state: freshness of recipients, follows and received marks")
struct SharingStateTests {
    static let notVerifying = VaultError.shareTampered(
        reason: "a recipient, follow or received mark was added, removed or put back outside v1vault (the sharing state does not verify)")

    /// Every row of `table`, as SQL literals, to put back later.
    static func rows(_ f: Fixture, _ table: String) throws -> [Row] {
        try f.raw().read { db in try Row.fetchAll(db, sql: "SELECT * FROM \(table)") }
    }

    static func putBack(_ f: Fixture, _ table: String, _ rows: [Row], replacing: Bool) throws {
        try f.raw().write { db in
            if replacing { try db.execute(sql: "DELETE FROM \(table)") }
            for r in rows {
                let columns = Array(r.columnNames)
                try db.execute(sql: "INSERT OR REPLACE INTO \(table) (\(columns.joined(separator: ", "))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", ")))",
                               arguments: StatementArguments(columns.map { r[$0] as DatabaseValue }))
            }
        }
    }

    static func stateSeq(_ f: Fixture) throws -> Int64 {
        try f.raw().read { db in try Int64.fetchOne(db, sql: "SELECT state_seq FROM sharing_state") ?? -1 }
    }

    @Test("a removed recipient put back from an earlier copy, with its follow, is refused (14): no drop is written for it")
    func removedRecipientPutBack() throws {
        let f = try SharingFleet()
        let ua = try f.a.unlocked()
        try ua.setFollows("host-b", tokens: ["siem"], follow: true)
        let recipients = try Self.rows(f.a, "recipients"), follows = try Self.rows(f.a, "recipient_follows")
        try ua.removeRecipient("host-b")
        #expect(try ua.share(["siem"], to: .followers).isEmpty)
        try Self.putBack(f.a, "recipients", recipients, replacing: false)
        try Self.putBack(f.a, "recipient_follows", follows, replacing: false)
        #expect(throws: Self.notVerifying) { _ = try ua.share(["siem"], to: .followers) }
        #expect(throws: Self.notVerifying) { _ = try ua.recipients() }
    }

    @Test("every sharing table and the state put back together is refused (14): a later audit row changed them")
    func wholeSharingStatePutBack() throws {
        let f = try SharingFleet()
        let ua = try f.a.unlocked()
        try ua.setFollows("host-b", tokens: ["siem"], follow: true)
        let tables = ["recipients", "recipient_follows", "received_tokens", "sharing_state"]
        let saved = try tables.map { try Self.rows(f.a, $0) }
        let oldSeq = try Self.stateSeq(f.a)
        try ua.removeRecipient("host-b")
        let removeSeq = try Self.stateSeq(f.a)
        #expect(removeSeq > oldSeq)
        for (t, rows) in zip(tables, saved) { try Self.putBack(f.a, t, rows, replacing: true) }
        let rolledBack = VaultError.shareTampered(
            reason: "audit row \(removeSeq) changed the sharing rows after the state stored (audit row \(oldSeq)): they were rolled back")
        #expect(throws: rolledBack) { _ = try ua.share(["siem"], to: .followers) }
        #expect(throws: rolledBack) { try ua.setFollows("host-b", tokens: ["siem"], follow: false) }
        #expect(ua.sharingCheck() == DoctorCheck(check: "sharing", ok: false, detail: rolledBack.description))
    }

    @Test("an older received mark put back (alone, or with the state of its time) is refused (14): the key is not rotated back")
    func olderMarkPutBack() throws {
        let f = try SharingFleet()
        let ub = try f.b.unlocked()
        _ = try ub.receive(try f.drop(), label: "v1")
        let markV1 = try Self.rows(f.b, "received_tokens"), stateV1 = try Self.rows(f.b, "sharing_state")
        _ = try f.a.unlocked().rotate("siem", token: secure("eyJ.siem-two"), expires: nil)
        let dropV2 = try f.drop()
        _ = try f.a.unlocked().rotate("siem", token: secure("eyJ.siem-three"), expires: nil)
        _ = try ub.receive(try f.drop(), label: "v3")
        let v1Seq: Int64 = stateV1[0]["state_seq"], v3Seq = try Self.stateSeq(f.b)
        #expect(try f.value(f.b, "siem") == "eyJ.siem-three")
        // Version 2 is older than the mark (3): a replay.
        #expect(throws: VaultError.dropReplayed(file: "v2", token: "siem", reason: "version 2 is older than version 3 received before (a replay)")) {
            _ = try ub.receive(dropV2, label: "v2")
        }
        // The mark of version 1 put back alone: the state no longer covers the rows.
        try Self.putBack(f.b, "received_tokens", markV1, replacing: true)
        #expect(throws: Self.notVerifying) { _ = try ub.receive(dropV2, label: "v2") }
        // With the state of its time too: the receive of version 3 came after it.
        try Self.putBack(f.b, "sharing_state", stateV1, replacing: true)
        #expect(throws: VaultError.shareTampered(reason: "audit row \(v3Seq) changed the sharing rows after the state stored (audit row \(v1Seq)): they were rolled back")) {
            _ = try ub.receive(dropV2, label: "v2")
        }
        #expect(try f.value(f.b, "siem") == "eyJ.siem-three")
    }

    @Test("a deleted sharing state is refused (14) and never sealed again: the audit log shows it was sealed")
    func stateDeleted() throws {
        let f = try SharingFleet()
        try f.b.raw().write { db in try db.execute(sql: "DELETE FROM sharing_state") }
        let deleted = VaultError.shareTampered(reason: "the sharing state was deleted from the file (the audit log shows it was sealed)")
        #expect(throws: deleted) { _ = try f.b.unlocked().recipients() }
        #expect(throws: deleted) { _ = try f.b.unlocked().receive(try f.drop(), label: "d") }
        #expect(try Self.rows(f.b, "sharing_state").isEmpty)
    }

    @Test("a stray sharing state row (its CHECK switched off) or a second one is refused (14)")
    func strayState() throws {
        let f = try SharingFleet()
        try f.b.raw().write { db in
            try db.execute(sql: "PRAGMA ignore_check_constraints = ON")
            try db.execute(sql: "UPDATE sharing_state SET id = 2")
            try db.execute(sql: "PRAGMA ignore_check_constraints = OFF")
        }
        #expect(throws: VaultError.shareTampered(reason: "a stray sharing state row")) { _ = try f.b.unlocked().recipients() }
    }

    @Test("each command that changes the sharing rows seals the state under its own audit row, marked; one that does not leaves it")
    func writersSeal() throws {
        let f = try SharingFleet()
        let ua = try f.a.unlocked()
        func marked(_ seq: Int64) throws -> Bool {
            try f.a.raw().read { db in try String.fetchOne(db, sql: "SELECT details FROM audit_log WHERE seq = ?", arguments: [seq]) ?? "" }
                .contains(#""sharing":"sealed""#)
        }
        var last = try Self.stateSeq(f.a)
        func sealedAgain(_ what: String) throws {
            let now = try Self.stateSeq(f.a)
            #expect(now > last, "\(what) did not seal the state")
            #expect(try marked(now), "\(what)'s row has no marker")
            last = now
        }
        try ua.setFollows("host-b", tokens: ["siem"], follow: true); try sealedAgain("follow")
        try ua.setFollows("host-b", tokens: ["siem"], follow: true)
        #expect(try Self.stateSeq(f.a) == last, "a follow that changed nothing sealed the state")
        _ = try ua.setTrust("host-b", signingKey: nil, trusted: true); try sealedAgain("trust")
        try ua.add("soar", token: secure("eyJ.soar"), metadata: TokenMetadata(region: .eu), expires: nil)
        #expect(try Self.stateSeq(f.a) == last, "add sealed the state")
        _ = try ua.remove("soar")
        #expect(try Self.stateSeq(f.a) == last, "removing a token nobody follows sealed the state")
        _ = try ua.remove("siem"); try sealedAgain("remove of a followed token")
        try ua.removeRecipient("host-c"); try sealedAgain("recipient remove")
        _ = try ua.addRecipient("host-c", recipient: try f.c.unlocked().identity().recipient, signingKey: nil, trusted: false)
        try sealedAgain("recipient add")
    }

    @Test("markers are found as bytes, as SQLite's instr finds them: one followed by a combining mark still counts (red team F)")
    func markerBytes() {
        #expect(AuditChain.hasMarker("{\"sharing\":\"sealed\"\u{0301}}", SharingState.marker))
        #expect(!"{\"sharing\":\"sealed\"\u{0301}}".contains(SharingState.marker))
        #expect(!AuditChain.hasMarker("{\"sharing\":\"seale\"}", SharingState.marker))
        #expect(AuditChain.hasMarker(SharingState.marker, SharingState.marker))
    }

    @Test("an audit log deleted (with the sharing state) is never started again by a write: 7, nothing sealed (red team A)")
    func logDeleted() throws {
        let f = try SharingFleet()
        try f.b.raw().write { db in
            try db.execute(sql: "DELETE FROM audit_log")
            try db.execute(sql: "DELETE FROM sharing_state")
        }
        #expect(throws: VaultError.corruptVault(reason: "the audit log has no sealed row, but v1vault seals the first one at init: "
                                                + "the log was deleted or replaced; nothing was changed (restore from a backup)")) {
            _ = try f.b.unlocked().recipients()
        }
        #expect(try Self.rows(f.b, "sharing_state").isEmpty)
        #expect(try f.b.raw().read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM audit_log WHERE mac IS NOT NULL") } == 0)
    }

    @Test("a follow put back after its token was removed is refused (14) before the state is even checked (red team B)")
    func orphanFollow() throws {
        let f = try SharingFleet()
        let ua = try f.a.unlocked()
        try ua.setFollows("host-b", tokens: ["siem"], follow: true)
        let follows = try Self.rows(f.a, "recipient_follows")
        let id: Int64 = follows[0]["token_id"]
        _ = try ua.remove("siem")
        try Self.putBack(f.a, "recipient_follows", follows, replacing: false)
        let rid: Int64 = follows[0]["recipient_id"]
        #expect(throws: VaultError.shareTampered(reason: "a follow mark (recipient \(rid), token \(id)) names a recipient or token the vault does not hold")) {
            _ = try ua.recipients()
        }
    }
}
