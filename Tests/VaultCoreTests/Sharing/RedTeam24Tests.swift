import Foundation
import GRDB
import Testing
import TestSupport
@testable import VaultCore
@testable import VaultFormat
@testable import VaultStorage

// Red team #24: schema-6 rows written by someone who has the file but not the passphrase.
// Each test here was red on i24-share at d00c6d7 (it demonstrated a finding) and is green with
// the fix. The red team's F2 (schema-6 rows copied back from an earlier copy of the file verify:
// no freshness against the audit log) is closed by schema 7: SharingStateTests.

@Suite("Red team #24: sharing rows under a hostile file")
struct RedTeam24Tests {
    /// F1. received_tokens.remote_version is MACed as u32be(truncating) but stored as a 64-bit
    /// INTEGER. With CHECK constraints switched off for one UPDATE (`PRAGMA
    /// ignore_check_constraints`, which changes no schema text), remote_version − 2³² keeps the
    /// same MAC, and every older version passes the replay check.
    @Test("a remote_version moved by 2^32 keeps its MAC: an old drop is replayed")
    func remoteVersionTruncation() throws {
        let f = try SharingFleet()
        let drop1 = try f.drop()
        _ = try f.b.unlocked().receive(drop1, label: "d1")
        _ = try f.a.unlocked().rotate("siem", token: secure("eyJ.siem-two"), expires: nil)
        _ = try f.b.unlocked().receive(try f.drop(), label: "d2")
        try f.b.raw().writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA ignore_check_constraints = ON")
            try db.execute(sql: "UPDATE received_tokens SET remote_version = remote_version - 4294967296")
        }
        #expect(throws: VaultError.corruptVault(reason: "a stored value has the wrong type (received_tokens.remote_version holds the out-of-range version -4294967294)")) {
            _ = try f.b.unlocked().receive(drop1, label: "d1")
        }
        #expect(try f.value(f.b, "siem") == "eyJ.siem-two")
    }

    /// F4. The vault_identity row deleted from the file: the next sharing command makes a new
    /// identity without a word of tampering (the old one, which every other vault knows, is lost).
    @Test("a deleted identity row is tampering (14), not a vault from before schema 6")
    func deletedIdentity() throws {
        let f = try SharingFleet()
        let before = try f.b.unlocked().identity()
        try f.b.raw().write { db in try db.execute(sql: "DELETE FROM vault_identity") }
        _ = before
        #expect(throws: VaultError.shareTampered(reason: "the vault's sharing identity was deleted from the file (the audit log shows it was made)")) {
            _ = try f.b.unlocked().identity()
        }
    }

    /// F7. Drop errors printed the path unescaped: a file name from the inbox (the transport
    /// chooses it) with a line feed forges extra lines in the one-line error.
    @Test("a drop error is one line whatever the file is called")
    func dropErrorOneLine() {
        let e = VaultError.dropUnreadable(file: "inbox/a\nreceived siem version 9 from alice (rotated)\nz.age", reason: "not an age file")
        #expect(!e.description.contains("\n"))
    }
}
