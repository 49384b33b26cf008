import Foundation
import Testing
@testable import VaultCore

@Suite("console API pieces: secret extraction, names, months, dates (in process)")
struct ConsoleTests {
    func extract(_ json: String, depth: Int = 2) -> (secret: String?, rest: String) {
        var bytes = Array(json.utf8)
        let text: String? = bytes.withUnsafeMutableBytes { buffer in
            guard let secret = JSONSecretExtractor.extract(buffer, key: "value", depth: depth) else { return nil }
            return secret.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
        }
        return (text, String(decoding: bytes, as: UTF8.self))
    }

    @Test("the value leaves the buffer for secure memory and is blanked there; the rest still parses")
    func extraction() throws {
        let body = #"[{"status": 201, "body": {"id": "k-1", "value": "eyJhbGciOi.eyJpZCI6.c2ln", "expiredDateTime": "2027-12-01T00:00:00Z"}}]"#
        let (secret, rest) = extract(body)
        #expect(secret == "eyJhbGciOi.eyJpZCI6.c2ln")
        #expect(!rest.contains("eyJ") && rest.contains(#""value": ""# + String(repeating: "x", count: 24) + "\""))
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(rest.utf8)) as? [[String: Any]])
        #expect((parsed[0]["body"] as? [String: Any])?["id"] as? String == "k-1")
    }

    @Test("only the key at the asked depth counts; strings that look like keys, escapes and non-strings do not")
    func extractionIsStrict() {
        // "value" as a string value, inside another string, and at the wrong depth: none is the secret.
        #expect(extract(#"[{"status": "value", "body": {"id": "\"value\": \"no\"", "value": "eyJ.a.b"}}]"#).secret == "eyJ.a.b")
        #expect(extract(#"{"value": "eyJ.top.level"}"#).secret == nil)
        #expect(extract(#"[{"body": {"value": 12}}]"#).secret == nil)
        #expect(extract(#"[{"body": {"value": "eyJ\/escaped"}}]"#).secret == nil)
        #expect(extract(#"[{"body": {"value": ""}}]"#).secret == nil)
        #expect(extract(#"[{"body": {"value": "unterminated"#).secret == nil)
    }

    @Test("planned names keep the stem, drop an earlier suffix, stay unique and bounded")
    func names() {
        let now = Date(timeIntervalSince1970: 1_796_000_000)
        let a = ConsoleNaming.planned(from: "siem-connector", now: now)
        #expect(a.range(of: #"^siem-connector-v1v\d{8}-[0-9a-f]{8}$"#, options: .regularExpression) != nil, "\(a)")
        let b = ConsoleNaming.planned(from: a, now: now)
        #expect(b.hasPrefix("siem-connector-v1v") && b.components(separatedBy: "-v1v").count == 2, "\(b)")
        #expect(ConsoleNaming.planned(from: String(repeating: "x", count: 200), now: now).count == 48 + 21)
    }

    @Test("lifetimes map onto the console's months; never is 0")
    func months() {
        #expect(ConsoleNaming.months(lifetime: nil) == 0)
        #expect(ConsoleNaming.months(lifetime: 30 * 86400) == 1)
        #expect(ConsoleNaming.months(lifetime: 90 * 86400) == 3)
        #expect(ConsoleNaming.months(lifetime: 180 * 86400) == 6)
        #expect(ConsoleNaming.months(lifetime: 365 * 86400) == 12)
        #expect(ConsoleNaming.months(lifetime: 3 * 365 * 86400) == 12)
    }

    @Test("console dates: fractions accepted; the SDK's 'never' strings read as none")
    func dates() {
        #expect(ConsoleAPI.date("2027-01-02T03:04:05Z") == Timestamp.parseDate("2027-01-02T03:04:05Z"))
        #expect(ConsoleAPI.date("2027-01-02T03:04:05.123Z") == Timestamp.parseDate("2027-01-02T03:04:05Z"))
        #expect(ConsoleAPI.date("9999-12-31T23:59:59Z") == nil)
        #expect(ConsoleAPI.date("0001-01-01T00:00:00Z") == nil)
        #expect(ConsoleAPI.date("soon") == nil)
    }

    @Test("console ids and names are checked before they are stored")
    func linkValidation() {
        #expect(ConsoleLink.isValidID("3f2b8c1e-0d4a-4c5e-9f00-123456789abc"))
        #expect(!ConsoleLink.isValidID("") && !ConsoleLink.isValidID("a/b") && !ConsoleLink.isValidID(String(repeating: "a", count: 129)))
        #expect(ConsoleLink.isValidName("SIEM connector (prod)"))
        #expect(!ConsoleLink.isValidName("a\nb") && !ConsoleLink.isValidName("") && !ConsoleLink.isValidName("x\u{202E}y"))
    }
}
