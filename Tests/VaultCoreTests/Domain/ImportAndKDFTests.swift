import Foundation
import GRDB
import Synchronization
import Testing
@testable import VaultCore
@testable import VaultFormat

@Suite("KDF calibration")
struct KDFCalibrationTests {
    /// A fake Argon2id: `fixed + perPass × ops` milliseconds, recorded.
    final class FakeTimer: @unchecked Sendable {
        let fixed: Double, perPass: Double
        var calls: [UInt64] = []
        init(fixed: Double, perPass: Double) { self.fixed = fixed; self.perPass = perPass }
        func measure(_ p: KDFParameters) -> Double { calls.append(p.opsLimit); return fixed + perPass * Double(p.opsLimit) }
    }

    @Test("lands within ±15% even with a large fixed cost, where one-trial scaling overshoots", arguments: [
        (70.0, 33.0, Int64(1000)), (5.0, 10.0, 500), (200.0, 2.0, 300), (0.0, 100.0, 1000),
    ])
    func lands(fixed: Double, perPass: Double, target: Int64) throws {
        let t = FakeTimer(fixed: fixed, perPass: perPass)
        let r = try KDFCalibration.calibrate(targetMilliseconds: target, memory: 64 << 20) { p throws(VaultError) in t.measure(p) }
        #expect(r.withinTolerance, "\(r.parameters) measured \(r.measuredMilliseconds)")
        #expect(t.calls.count <= 6)
        #expect(r.targetMilliseconds == target)
    }

    @Test("when one pass is already too slow it says so and uses ops 1")
    func memoryTooLarge() throws {
        let r = try KDFCalibration.calibrate(targetMilliseconds: 100, memory: 1 << 30) { p throws(VaultError) in 400 * Double(p.opsLimit) }
        #expect(r.parameters.opsLimit == 1 && r.memoryTooLarge)
    }

    @Test("ops stay within bounds for tiny per-pass costs")
    func bounded() throws {
        let r = try KDFCalibration.calibrate(targetMilliseconds: 60_000, memory: 1 << 30) { p throws(VaultError) in 0.5 * Double(p.opsLimit) }
        #expect(r.parameters.opsLimit <= 16)  // ops × 1 GiB ≤ 16 GiB of work
        #expect(throws: Never.self) { try r.parameters.validate() }
    }

    @Test("times parse")
    func times() throws {
        #expect(try KDFCalibration.parseTime("1s") == 1000)
        #expect(try KDFCalibration.parseTime("500ms") == 500)
        #expect(try KDFCalibration.parseTime("2.5s") == 2500)
        for bad in ["", "s", "fast", "-1s", "1m", "1e9s"] { #expect(throws: (any Error).self) { try KDFCalibration.parseTime(bad) } }
    }
}

@Suite("Import")
struct ImportTests {
    func bytes(_ s: String) -> SecureBytes { secure(s) }

    @Test("dotenv: comments, blank lines, export prefix, quotes and CRLF")
    func dotenv() throws {
        let text = "# exported from the old vault\n\nexport a=\"eyJ.a\"\nb='eyJ.b'\r\n  c=eyJ.c=with=equals\n"
        let entries = try ImportParser.dotenv(bytes(text), metadata: TokenMetadata(region: .eu), expires: nil)
        #expect(entries.map(\.name) == ["a", "b", "c"])
        #expect(entries.map { string($0.token) } == ["eyJ.a", "eyJ.b", "eyJ.c=with=equals"])
        #expect(entries.map(\.line) == [3, 4, 5])
        #expect(entries.allSatisfy { $0.metadata.region == .eu })
        #expect(throws: VaultError.invalidInput(reason: "line 2: expected NAME=TOKEN", hint: nil)) {
            try ImportParser.dotenv(bytes("a=b\nnot an assignment\n"), metadata: TokenMetadata(), expires: nil)
        }
    }

    @Test("json: per-entry metadata, defaults, and strict fields")
    func json() throws {
        let text = #"[{"name":"x","token":"eyJ.x","region":"jp","expires":"never","role":"SOAR","permissions":["a","b"]},{"name":"y","token":"eyJ.y"}]"#
        let entries = try ImportParser.json(bytes(text), defaults: TokenMetadata(region: .eu, role: "default"), expires: fixedStart.addingTimeInterval(86400), now: fixedStart)
        #expect(entries[0].metadata.region == .jp && entries[0].metadata.role == "SOAR" && entries[0].expires == nil)
        #expect(entries[0].metadata.permissions == ["a", "b"])
        #expect(entries[1].metadata.region == .eu && entries[1].metadata.role == "default" && entries[1].expires == fixedStart.addingTimeInterval(86400))
        for (bad, reason) in [("{}", "this looks like `vault export --format json` output without --json-meta"),
                              (#"{"T":"eyJ","_meta":{"x":{"token_var":"U"}}}"#, #"_meta."x": no variable "U" holds its token"#),
                              (#"{"T":"eyJ","_meta":{"x":{"region":"eu"}}}"#, #"_meta."x": no token_var"#),
                              (#"{"T":"eyJ","_meta":{"x":{"token_var":"T","colour":"red"}}}"#, #"_meta."x": unknown field "colour""#),
                              ("[1]", "entry 1: not an object"), (#"[{"name":"x"}]"#, "entry 1: missing token"),
                              (#"[{"name":"x","token":"t","colour":"red"}]"#, #"entry 1: unknown field "colour""#), ("[", "not valid JSON"),
                              (#"[{"name":"x","token":"t","region":"mars"}]"#, #"entry 1: unknown region "mars""#)] {
            #expect(throws: (any Error).self) { try ImportParser.json(bytes(bad), defaults: TokenMetadata(), expires: nil, now: fixedStart) }
            do { _ = try ImportParser.json(bytes(bad), defaults: TokenMetadata(), expires: nil, now: fixedStart) } catch {
                #expect(error.description.hasPrefix(reason), "\(bad): \(error)")
            }
        }
    }

    @Test("import is all or nothing and names the offending line")
    func allOrNothing() throws {
        let f = Fixture()
        _ = try f.create()
        let u = try f.unlocked()
        try u.add("taken", token: secure("t"), metadata: TokenMetadata(), expires: nil)
        let entries = try ImportParser.dotenv(bytes("n1=eyJ.1\nn2=eyJ.2\ntaken=eyJ.3\n"), metadata: TokenMetadata(), expires: nil)
        #expect(throws: VaultError.invalidInput(reason: "line 3: a token named taken already exists", hint: "nothing was imported")) {
            try u.importTokens(entries)
        }
        #expect(throws: VaultError.invalidInput(reason: "line 2: invalid token: contains whitespace at byte 2", hint: nil)) {
            try u.importTokens(try ImportParser.dotenv(bytes("n1=eyJ.1\nn2=a b\n"), metadata: TokenMetadata(), expires: nil))
        }
        #expect(throws: VaultError.invalidInput(reason: "line 2: duplicate name n1 in the input", hint: nil)) {
            try u.importTokens(try ImportParser.dotenv(bytes("n1=eyJ.1\nn1=eyJ.2\n"), metadata: TokenMetadata(), expires: nil))
        }
        #expect(try f.raw().read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM tokens") } == 1)
        #expect(try u.importTokens(entries.dropLast().map { $0 }) == 2)
        #expect(string(try u.reveal("n2").secret) == "eyJ.2")
    }
}

@Suite("Scale")
struct ScaleTests {
    @Test("importing and revealing many tokens makes a constant number of guarded allocations")
    func constantAllocations() throws {
        // Each sodium_malloc is its own mapping and vm.max_map_count defaults to 65,530: one
        // allocation per token made import and export --all trap at N=100,000 (found by
        // scripts/bench). Now the input buffer is the tokens' arena and one scratch buffer seals
        // and opens them all.
        let f = Fixture()
        _ = try f.create()
        let u = try f.unlocked()
        let n = 2000
        let text = (0..<n).map { "t\($0)=eyJ.token-\($0)\n" }.joined()
        let importing = AllocationCounter()
        let entries = try SecureBytes.$allocationCounter.withValue(importing) {
            let e = try ImportParser.dotenv(secure(text), metadata: TokenMetadata(), expires: nil)
            #expect(try u.importTokens(e) == n)
            return e
        }
        #expect(entries.count == n)
        #expect(importing.count.load(ordering: .relaxed) <= 4, "import made \(importing.count.load(ordering: .relaxed)) guarded allocations for \(n) tokens")
        let revealing = AllocationCounter()
        let revealed = try SecureBytes.$allocationCounter.withValue(revealing) {
            try u.revealMany((0..<n).map { ("t\($0)", nil) }, action: "export")
        }
        #expect(revealing.count.load(ordering: .relaxed) <= 4, "reveal made \(revealing.count.load(ordering: .relaxed)) guarded allocations for \(n) tokens")
        #expect(revealed.count == n && string(revealed[n - 1].secret) == "eyJ.token-\(n - 1)")
        #expect(string(revealed[1234].secret) == "eyJ.token-1234")
    }
}
