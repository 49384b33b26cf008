import Foundation
import GRDB
import Testing
import TestSupport
@testable import VaultCore
@testable import VaultFormat
@testable import VaultStorage

/// Fast KDF parameters for tests (libsodium's minimum memory, one pass).
let testKDF = KDFParameters(opsLimit: 1, memLimit: 8 * 1024)

func secure(_ s: String) -> SecureBytes {
    var b = SecureBytes(capacity: s.utf8.count, empty: true)
    b.append(s)
    return b
}

func string(_ b: borrowing SecureBytes) -> String {
    b.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
}

func string(_ v: SecretView) -> String {
    v.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
}

/// A private temporary directory, removed when the value is released.
final class TempDir {
    let path: String
    init() {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("v1vault-test-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        path = base
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }
}

/// A mutable clock for expiry tests.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var date: Date
    init(_ date: Date) { self.date = date }
    var now: Date { lock.withLock { date } }
    func advance(days: Double) { lock.withLock { date = date.addingTimeInterval(days * 86400) } }
    var clock: Clock { Clock { [unowned self] in self.now } }
}

let fixedStart = Timestamp.parseDate("2026-01-15T12:00:00Z")!

struct Fixture {
    let dir = TempDir()
    let clock = TestClock(fixedStart)
    var path: String { dir.file("vault.db") }

    func create(passphrase: String = "pass phrase") throws -> Vault {
        try Vault.create(at: path, passphrase: secure(passphrase), parameters: testKDF, clock: clock.clock, actor: .test)
    }

    func open() throws -> Vault {
        try Vault.open(at: path, clock: clock.clock, actor: .test)
    }

    func unlocked(passphrase: String = "pass phrase") throws -> UnlockedVault {
        try open().unlock(passphrase: secure(passphrase))
    }

    /// Raw SQL access, bypassing the vault (for tampering and inspection).
    func raw() throws -> DatabaseQueue { try DatabaseQueue(path: path) }
}

extension AuditActor {
    static let test = AuditActor(user: "tester", uid: 1000, host: "testhost", pid: 42)
}

extension ImportEntry {
    convenience init(name: String, token: String, metadata: TokenMetadata, expires: Date?) {
        self.init(name: name, token: .single(secure(token)), metadata: metadata, expires: expires)
    }
}

/// Re-seals a token's state MAC over whatever the file now holds, as an attacker holding the
/// metadata key (but not the token key) could: lets a test reach the sealed-box binding, the
/// layer behind the state MAC.
func resealState(_ u: UnlockedVault, _ name: String) throws {
    try u.perform("test-reseal", subjects: []) { w in
        var t = try TokenRecord.named(name, w.db)!
        try u.sealState(w, &t)
    }
}
