import Foundation
import Testing
@testable import VaultCore
@testable import VaultFormat
@testable import VisionOne

/// Trend's own WireMock mappings of the API-keys endpoints (Tests/Fixtures/tm-v1-api-mockup,
/// unmodified, from github.com/trendmicro/tm-v1-api-mockup at e21ef3c), served by
/// scripts/trend-mock-replay.py and read through v1vault's own client: libcurl, the retries,
/// the secure body, the parsers. Nothing of this project's fake is in between.
final class TrendMockReplay {
    let process = Process()
    let port: Int
    let log: String
    let dir = TempDir()

    init() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        log = dir.file("requests.jsonl")
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", root.appendingPathComponent("scripts/trend-mock-replay.py").path,
                             root.appendingPathComponent("Tests/Fixtures/tm-v1-api-mockup/mappings").path, log, "--lifetime", "120"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        var line = Data()
        while !line.contains(0x0A) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line += chunk
        }
        guard let p = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw FixtureError(description: "trend-mock-replay.py did not print its port")
        }
        port = p
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    var requests: [[String: Any]] {
        guard let text = try? String(contentsOfFile: log, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    deinit { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
}

@Suite("Trend's own mock, replayed through v1vault's console client (in process client, out of process mock)")
struct TrendMockReplayTests {
    func client(_ mock: TrendMockReplay) -> HTTPConsoleClient {
        HTTPConsoleClient(baseURL: mock.baseURL, manager: .single(secure("eyJtrend.mock.manager")), timeout: 10)
    }

    @Test("create: the 207 element with its Location header is read by structure — id, the value, the expiry")
    func create() throws {
        let mock = try TrendMockReplay()
        let created = try client(mock).create(ConsoleCreateRequest(name: "siem-v1v20261203-0a0b0c0d", role: "SIEM", months: 3, description: nil))
        #expect(created.id == "d367abdd-7739-4129-a36a-862c4ec018b4")
        #expect(string(created.value) == "string")
        #expect(created.expires == Timestamp.parseDate("2025-02-06T10:00:00Z"))
        let sent = try #require(mock.requests.last)
        #expect(sent["method"] as? String == "POST" && sent["path"] as? String == "/v3.0/iam/apiKeys")
        #expect((sent["body"] as? [[String: Any]])?.first?["monthsToExpiration"] as? Int == 3)
    }

    @Test("get: the key and its unquoted ETag; list: the one key; update: 204 with the ETag as If-Match; delete: 207 of 204")
    func readAndWrite() throws {
        let mock = try TrendMockReplay()
        let c = client(mock)
        let (key, etag) = try c.get("d367abdd-7739-4129-a36a-862c4ec018b4")
        #expect(key == ConsoleKey(id: "d367abdd-7739-4129-a36a-862c4ec018b4", name: "test", status: "enabled", role: "Master Administrator",
                                  description: "this is a test apikey", expires: Timestamp.parseDate("2025-02-06T10:00:00Z"),
                                  lastUsed: Timestamp.parseDate("2023-02-06T10:00:00Z")))
        #expect(etag == "d41d8cd98f00b204e9800998ecf8427e")
        let listing = try c.list()
        #expect(listing.keys.map(\.name) == ["test"] && listing.skipped == 0)
        #expect(try c.update(key.id, etag: etag, fields: ["status": "disabled"]))
        let patch = try #require(mock.requests.last)
        #expect((patch["headers"] as? [String: String])?["If-Match"] == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(try c.delete([key.id]) == [key.id: true])
        // setStatus as renewal disables a key: GET for the ETag, then PATCH.
        #expect(try c.setStatus(key.id, enabled: false)?.name == "test")
    }
}
