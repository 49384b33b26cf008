import Foundation
import Testing
@testable import VaultCore
@testable import VaultFormat
@testable import VisionOne

@Suite("console answers: the secret by its path, names, months, dates, expiry readings (in process)")
struct ConsoleAnswersTests {
    func extract(_ json: String, path: [JSONSecretExtractor.Step] = JSONSecretExtractor.createValue) -> (secret: String?, rest: String) {
        var bytes = Array(json.utf8)
        let text: String? = bytes.withUnsafeMutableBytes { buffer in
            guard let secret = JSONSecretExtractor.extract(buffer, path: path) else { return nil }
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

    @Test("Trend's own create answer: the Location header's value stays, body.value is the secret")
    func trendCreateElement() throws {
        // tm-v1-api-mockup create_api_keys_207_202.json, with {{request.baseUrl}} filled in.
        let body = #"[{"status": 201, "headers": [{"name": "Location", "value": "https://api.example/v3.0/iam/apiKeys/d367abdd-7739-4129-a36a-862c4ec018b4"}], "body": {"id": "d367abdd-7739-4129-a36a-862c4ec018b4", "value": "string", "expiredDateTime": "2025-02-06T10:00:00Z"}}]"#
        let (secret, rest) = extract(body)
        #expect(secret == "string")
        #expect(rest.contains(#""value": "https://api.example/v3.0/iam/apiKeys/d367abdd"#))
        #expect(rest.contains(#""value": "xxxxxx""#))
        let element = try #require(ConsoleAnswers.createElement(try JSONSerialization.jsonObject(with: Data(rest.utf8))))
        #expect(element == .init(status: 201, id: "d367abdd-7739-4129-a36a-862c4ec018b4", locationID: "d367abdd-7739-4129-a36a-862c4ec018b4",
                                 expires: "2025-02-06T10:00:00Z", errorCode: nil))
    }

    @Test("only the member at [0].body.value counts; look-alikes, escapes, non-strings and duplicates do not")
    func extractionIsStrict() {
        // "value" as a string value, inside another string, and at another path: none is the secret.
        #expect(extract(#"[{"status": "value", "body": {"id": "\"value\": \"no\"", "value": "eyJ.a.b"}}]"#).secret == "eyJ.a.b")
        #expect(extract(#"[{"headers": [{"name": "value", "value": "eyJ.decoy"}], "body": {"value": "eyJ.real"}}]"#).secret == "eyJ.real")
        #expect(extract(#"{"value": "eyJ.top.level"}"#).secret == nil)
        #expect(extract(#"{"body": {"value": "eyJ.object.not.array"}}"#).secret == nil)
        #expect(extract(#"[{"x": 1}, {"body": {"value": "eyJ.second.element"}}]"#).secret == nil)
        #expect(extract(#"[{"body": {"value": 12}}]"#).secret == nil)
        #expect(extract(#"[{"body": {"value": null}}]"#).secret == nil)
        #expect(extract(#"[{"body": {"value": "eyJ\/escaped"}}]"#).secret == nil)
        #expect(extract(#"[{"body": {"value": ""}}]"#).secret == nil)
        #expect(extract(#"[{"body": {"value": "unterminated"#).secret == nil)
        // Two values at the path (parsers disagree on which wins), or a name a parser would read
        // as "value" but this scanner would not: refused.
        #expect(extract(#"[{"body": {"value": "eyJ.one", "value": "eyJ.two"}}]"#).secret == nil)
        #expect(extract(#"[{"body": {"value": "eyJ.one"}, "body": {"value": "eyJ.two"}}]"#).secret == nil)
        #expect(extract(#"[{"body": {"\u0076alue": "eyJ.hidden", "value": "eyJ.decoy"}}]"#).secret == nil)
    }

    @Test("a create element: status, id from the body or the Location header, error codes in both shapes")
    func createElements() throws {
        func element(_ json: String) -> ConsoleAnswers.CreateElement? { ConsoleAnswers.createElement(try? JSONSerialization.jsonObject(with: Data(json.utf8))) }
        #expect(element(#"[{"status": 201, "body": {"id": "k-1", "value": "x", "expiredDateTime": "2027-01-01T00:00:00Z"}}]"#)
                == .init(status: 201, id: "k-1", locationID: nil, expires: "2027-01-01T00:00:00Z", errorCode: nil))
        #expect(element(#"[{"status": 201, "headers": [{"name": "location", "value": "/v3.0/iam/apiKeys/k-2"}], "body": {"value": "x"}}]"#)?.locationID == "k-2")
        #expect(element(#"[{"status": 400, "body": {"error": {"code": "BadRequest", "message": "Target not found."}}}]"#)?.errorCode == "BadRequest")
        #expect(element(#"[{"status": 400, "body": {"error": {"code": "a b <script>"}}}]"#)?.errorCode == "(unreadable error code)")
        #expect(element(#"[{"status": 201}, {"status": 201}]"#) == nil)
        #expect(element(#"{"status": 201}"#) == nil)
        #expect(ConsoleAnswers.errorCode(try JSONSerialization.jsonObject(with: Data(#"{"code": "TooManyRequests", "message": "Too many requests"}"#.utf8))) == "TooManyRequests")
    }

    @Test("list pages: items null is an empty page (as the SDK reads it), a missing items is not an answer")
    func listPages() throws {
        func page(_ json: String) -> (Int, String?)? {
            ConsoleAnswers.listPage(try? JSONSerialization.jsonObject(with: Data(json.utf8))).map { ($0.items.count, $0.next) }
        }
        #expect(page(#"{"totalCount": 0, "count": 0, "items": null}"#).map { $0.0 } == 0)
        #expect(page(#"{"totalCount": 0, "count": 0, "items": []}"#).map { $0.0 } == 0)
        #expect(page(#"{"items": [{"id": "a"}], "nextLink": "https://x/v3.0/iam/apiKeys?skipToken=1"}"#).map { $0.1 } == "https://x/v3.0/iam/apiKeys?skipToken=1")
        #expect(page(#"{"items": [], "nextLink": null}"#).map { $0.1 } == .some(nil))
        #expect(page(#"{"items": [], "nextLink": ""}"#).map { $0.1 } == .some(nil))
        #expect(page(#"{"totalCount": 0}"#) == nil)
        #expect(page(#"{"items": "none"}"#) == nil)
    }

    @Test("a key with a member that looks like an IP allow-list is flagged; Trend's own members are not")
    func restrictions() {
        let trend: [String: Any] = ["id": "d367abdd", "name": "test", "status": "enabled", "role": "Master Administrator", "description": "this is a test apikey",
                                    "lastUsedDateTime": "2023-02-06T10:00:00Z", "expiredDateTime": "2025-02-06T10:00:00Z"]
        #expect(ConsoleAnswers.key(trend)?.restrictionFields == [])
        var restricted = trend
        restricted["ipAllowList"] = ["10.0.0.0/8"]
        restricted["allowedCidrs"] = [] as [String]
        #expect(ConsoleAnswers.key(restricted)?.restrictionFields == ["ipAllowList"])
    }

    @Test("a new key's expiry fits calendar months, 30-day months and the console's presets, each within 3 days")
    func expiryReadings() throws {
        let at = try #require(Timestamp.parseDate("2027-01-31T10:00:00Z"))
        func fits(_ days: Double, _ months: Int) -> Bool { ConsoleAnswers.expiryFits(at.addingTimeInterval(days * 86400), months: months, at: at) }
        #expect(fits(28, 1) && fits(30, 1) && fits(31, 1))          // Feb 28 (calendar), 30-day, preset
        #expect(fits(90, 3) && fits(89, 3) && fits(180, 6) && fits(181, 6))
        #expect(fits(360, 12) && fits(365, 12))
        #expect(!fits(20, 1) && !fits(40, 1) && !fits(100, 3) && !fits(350, 12) && !fits(370, 12))
        #expect(!ConsoleAnswers.expiryFits(at, months: 0, at: at))
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
        #expect(ConsoleAnswers.date("2027-01-02T03:04:05Z") == Timestamp.parseDate("2027-01-02T03:04:05Z"))
        #expect(ConsoleAnswers.date("2027-01-02T03:04:05.123Z") == Timestamp.parseDate("2027-01-02T03:04:05Z"))
        #expect(ConsoleAnswers.date("9999-12-31T23:59:59Z") == nil)
        #expect(ConsoleAnswers.date("0001-01-01T00:00:00Z") == nil)
        #expect(ConsoleAnswers.date("soon") == nil)
    }

    @Test("console ids and names are checked before they are stored")
    func linkValidation() {
        #expect(ConsoleLink.isValidID("3f2b8c1e-0d4a-4c5e-9f00-123456789abc"))
        #expect(!ConsoleLink.isValidID("") && !ConsoleLink.isValidID("a/b") && !ConsoleLink.isValidID(String(repeating: "a", count: 129)))
        #expect(ConsoleLink.isValidName("SIEM connector (prod)"))
        #expect(!ConsoleLink.isValidName("a\nb") && !ConsoleLink.isValidName("") && !ConsoleLink.isValidName("x\u{202E}y"))
    }
}
