import Foundation
import GRDB
import Testing
@testable import VaultCore
@testable import VaultFormat
@testable import VaultStorage

@Suite("Audit chain")
struct AuditChainTests {
    /// A vault with a sealed log of `init` + 3 adds + 2 reveals (rows 1...6).
    func populated() throws -> Fixture {
        let f = Fixture()
        _ = try f.create()
        let u = try f.unlocked()
        for n in ["a", "b", "c"] { try u.add(n, token: secure("tok-\(n)"), metadata: TokenMetadata(), expires: nil) }
        _ = try u.reveal("a")
        _ = try u.reveal("b")
        return f
    }

    func verify(_ f: Fixture, head: AuditHead? = nil) throws -> AuditVerification {
        try f.unlocked().verifyAudit(expectHead: head)
    }

    @Test("an untouched log verifies, and every row is sealed")
    func intact() throws {
        let f = try populated()
        let r = try verify(f)
        #expect(r.intact && r.sealedRows == 6 && r.pendingRows == 0 && r.head?.seq == 6)
    }

    @Test("a changed field is detected at its row")
    func editedField() throws {
        let f = try populated()
        try f.raw().write { db in try db.execute(sql: "UPDATE audit_log SET os_user = 'mallory' WHERE seq = 3") }
        #expect(try verify(f).problem == .macMismatch(seq: 3))
    }

    @Test("a changed action or outcome is detected", arguments: ["action = 'list'", "outcome = 'error'", "tokens = '[]'", "at = '2020-01-01T00:00:00.000Z'"])
    func editedColumns(assignment: String) throws {
        let f = try populated()
        try f.raw().write { db in try db.execute(sql: "UPDATE audit_log SET \(assignment) WHERE seq = 5") }
        #expect(try verify(f).problem == .macMismatch(seq: 5))
    }

    @Test("a deleted middle row is detected at its sequence number")
    func deletedMiddle() throws {
        let f = try populated()
        try f.raw().write { db in try db.execute(sql: "DELETE FROM audit_log WHERE seq = 4") }
        #expect(try verify(f).problem == .rowsMissing(after: 3, before: 5))
    }

    @Test("a deleted last row is detected against a recorded head")
    func deletedLast() throws {
        let f = try populated()
        let head = try f.unlocked().auditHead()  // row 7, the audit-head row itself
        #expect(head.seq == 7)
        try f.raw().write { db in try db.execute(sql: "DELETE FROM audit_log WHERE seq = 7") }
        // Without the head the shortened log is self-consistent...
        let raw = try f.raw().read { db in try AuditChain.verify(db, key: f.unlocked().auditKey, expectHead: nil) }
        #expect(raw.intact)
        // ...with it, the truncation is reported.
        #expect(try verify(f, head: head).problem == .headMissing(expected: 7, last: 6))
    }

    @Test("a rolled-back file (older copy) is detected against a recorded head")
    func rolledBack() throws {
        let f = try populated()
        let copy = f.dir.file("old.db")
        try FileManager.default.copyItem(atPath: f.path, toPath: copy)
        _ = try f.unlocked().reveal("c")
        _ = try f.unlocked().reveal("c")
        let head = try f.unlocked().auditHead()
        // Replace the vault with the old copy, then add as many rows so the seq numbers line up.
        try FileManager.default.removeItem(atPath: f.path)
        try FileManager.default.moveItem(atPath: copy, toPath: f.path)
        _ = try f.unlocked().reveal("a"); _ = try f.unlocked().reveal("a"); _ = try f.unlocked().reveal("a")
        #expect(try verify(f, head: head).problem == .headMismatch(seq: head.seq))
    }

    @Test("a forged row inserted with a made-up MAC is detected")
    func forgedRow() throws {
        let f = try populated()
        try f.raw().write { db in
            try db.execute(sql: """
                INSERT INTO audit_log (seq, at, action, tokens, outcome, details, os_user, uid, host, pid, mac)
                VALUES (7, '2026-01-15T12:00:00.000Z', 'reveal', '[{"name":"a"}]', 'ok', '{}', 'alice', 1000, 'h', 1, randomblob(32))
                """)
        }
        #expect(try verify(f).problem == .macMismatch(seq: 7))
    }

    @Test("an unsealed row slipped in before sealed rows is detected")
    func unsealedInside() throws {
        let f = try populated()
        try f.raw().write { db in try db.execute(sql: "UPDATE audit_log SET mac = NULL WHERE seq = 2") }
        #expect(try verify(f).problem == .unsealedInsideChain(seq: 2))
    }

    @Test("two swapped rows are detected at the first of them")
    func swapped() throws {
        let f = try populated()
        try f.raw().write { db in
            try db.execute(sql: "UPDATE audit_log SET seq = -1 WHERE seq = 3")
            try db.execute(sql: "UPDATE audit_log SET seq = 3 WHERE seq = 4")
            try db.execute(sql: "UPDATE audit_log SET seq = 4 WHERE seq = -1")
        }
        #expect(try verify(f).problem == .macMismatch(seq: 3))
    }

    @Test("a rewritten MAC is detected at its row")
    func rewrittenMAC() throws {
        let f = try populated()
        try f.raw().write { db in try db.execute(sql: "UPDATE audit_log SET mac = randomblob(32) WHERE seq = 6") }
        #expect(try verify(f).problem == .macMismatch(seq: 6))
    }

    @Test("failed unlocks are logged unsealed, then sealed at the next unlock")
    func failedUnlocksSealedLater() throws {
        let f = try populated()
        for _ in 0..<2 { _ = try? f.open().unlock(passphrase: secure("guess")) }
        let pending = try f.open().auditEntries(AuditQuery(action: "unlock"))
        #expect(pending.count == 2 && pending.allSatisfy { !$0.sealed && $0.reason == "wrong passphrase" })
        _ = try f.unlocked().reveal("a")
        let sealed = try f.open().auditEntries(AuditQuery(action: "unlock"))
        #expect(sealed.count == 2 && sealed.allSatisfy(\.sealed))
        #expect(try verify(f).intact)
        // Once sealed, deleting one is detected.
        try f.raw().write { db in try db.execute(sql: "DELETE FROM audit_log WHERE seq = ?", arguments: [sealed[0].seq]) }
        #expect(try verify(f).problem == .rowsMissing(after: sealed[0].seq - 1, before: sealed[0].seq + 1))
    }

    @Test("no audit, no access: a reveal whose audit row cannot be written releases nothing")
    func noAuditNoAccess() throws {
        struct DiskFull: Error {}
        let f = try populated()
        let u = try f.unlocked()
        u.faultInjection = { if $0 == "reveal.beforeCommit" { throw DiskFull() } }
        #expect { try u.reveal("a") } throws: { error in
            if case .auditWriteFailed = error as? VaultError { return true } else { return false }
        }
    }

    @Test("an audit table that becomes unwritable between unlock and write releases nothing")
    func unwritableBetweenUnlockAndWrite() throws {
        let f = try populated()
        let u = try f.unlocked()
        // After the unlock, another process makes audit inserts fail (as a full disk would: the
        // next seq is past SQLite's largest rowid, so the insert fails with SQLITE_FULL).
        try f.raw().write { db in
            try db.execute(sql: "UPDATE sqlite_sequence SET seq = 9223372036854775807 WHERE name = 'audit_log'")
        }
        #expect { try u.reveal("b") } throws: { error in
            if case .auditWriteFailed = error as? VaultError { return true } else { return false }
        }
        #expect { try u.revealMany([("a", nil), ("c", nil)], action: "export") } throws: { error in
            if case .auditWriteFailed = error as? VaultError { return true } else { return false }
        }
    }

    @Test("a trigger planted between unlock and write is caught by the per-transaction schema check; nothing is released")
    func triggerBetweenUnlockAndWrite() throws {
        let f = try populated()
        let u = try f.unlocked()
        try f.raw().write { db in
            try db.execute(sql: "CREATE TRIGGER deny BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'denied'); END")
        }
        #expect { try u.reveal("b") } throws: { error in
            if case .schemaTampered = error as? VaultError { return true } else { return false }
        }
    }

    @Test("the audit table never holds token bytes")
    func noSecretsInAudit() throws {
        let f = try populated()
        let text = try f.raw().read { db in
            try String.fetchAll(db, sql: "SELECT action || tokens || coalesce(reason,'') || details || os_user || host FROM audit_log")
        }.joined()
        for n in ["a", "b", "c"] { #expect(!text.contains("tok-\(n)")) }
    }

    @Test("heads print as seq:hex and parse back")
    func headFormat() throws {
        let h = AuditHead(seq: 42, mac: Array(repeating: 0xab, count: 32))
        #expect(h.description == "42:" + String(repeating: "ab", count: 32))
        #expect(try AuditHead.parse(h.description) == h)
        for bad in ["", "42", "42:abcd", "x:" + String(repeating: "ab", count: 32), "42:" + String(repeating: "zz", count: 32)] {
            #expect(throws: (any Error).self) { try AuditHead.parse(bad) }
        }
    }

    @Test("the canonical row encoding matches the documented layout")
    func encodingVector() {
        let row = AuditRecord(seq: 1, at: "T", action: "add", tokens: "[]", outcome: "ok", reason: nil, details: "{}",
                              osUser: "u", uid: 7, host: "h", pid: 9, mac: nil)
        let hex = AuditChain.encode(row).map { String(format: "%02x", $0) }.joined()
        #expect(hex == "0000000000000001" + "0000000154" + "00000003616464" + "000000025b5d" + "000000026f6b" + "00"
                + "000000027b7d" + "0000000175" + "0000000000000007" + "0000000168" + "0000000000000009")
    }
}
