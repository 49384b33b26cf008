import Foundation
import Testing
@testable import VaultCore
@testable import VaultFormat
@testable import VisionOne

@Suite("Parsing untrusted input")
struct ParsingTests {
    @Test("token names", arguments: [
        ("a", true), ("siem-connector_1.prod", true), (String(repeating: "x", count: 64), true),
        ("", false), ("../x", false), (".hidden", false), ("-flag", false), (String(repeating: "x", count: 65), false),
        ("héllo", false), ("a b", false), ("a/b", false), ("a\nb", false),
    ])
    func names(name: String, valid: Bool) {
        let accepted = (try? Validate.tokenName(name)) != nil
        #expect(accepted == valid)
    }

    @Test("expiry specs")
    func expiry() throws {
        let now = fixedStart
        #expect(try ExpirySpec.parse("never", now: now) == nil)
        #expect(try ExpirySpec.parse("90d", now: now) == now.addingTimeInterval(90 * 86400))
        #expect(try ExpirySpec.parse("1y", now: now) == Timestamp.parseDate("2027-01-15T12:00:00Z"))
        #expect(try ExpirySpec.parse("2027-01-31", now: now) == Timestamp.parseDate("2027-01-31T00:00:00Z"))
        for bad in ["", "tomorrow", "2027-02-30", "2027-13-01", "1x", "-5d", "0d", "2020-01-01", "999999999d", "d", "1.5d", "2027-01-31T25:00:00Z"] {
            #expect(throws: (any Error).self, "\(bad)") { try ExpirySpec.parse(bad, now: now) }
        }
    }

    @Test("durations")
    func durations() throws {
        #expect(try DurationSpec.parse("30d") == DurationSpec(amount: 30, unit: .days))
        #expect(try DurationSpec.parse("2W") == DurationSpec(amount: 2, unit: .weeks))
        for bad in ["", "30", "d", "30m", "-1d", "1e3d", "101y"] {
            #expect(throws: (any Error).self, "\(bad)") { try DurationSpec.parse(bad) }
        }
    }

    @Test("regions map to Vision One base URLs")
    func regions() throws {
        #expect(try Region.parse("us").baseURL == "https://api.xdr.trendmicro.com")
        #expect(try Region.parse("JP").baseURL == "https://api.xdr.trendmicro.co.jp")
        #expect(try Region.parse("eu").baseURL == "https://api.eu.xdr.trendmicro.com")
        #expect(try Region.parse("usgov").baseURL == "https://api.usgov.xdr.trendmicro.com")
        #expect(Region.allCases.count == 11)
        #expect(throws: (any Error).self) { try Region.parse("mars") }
    }

    @Test("base URLs: https only, loopback may use http")
    func baseURLs() throws {
        #expect(try Validate.baseURL("https://api.example.com/") == "https://api.example.com")
        #expect(try Validate.baseURL("http://127.0.0.1:8080") == "http://127.0.0.1:8080")
        // Only canonical loopback literals: a name, or a form some resolvers read differently, is not.
        #expect(throws: VaultError.self) { try Validate.baseURL("http://localhost:9") }
        #expect(throws: VaultError.self) { try Validate.baseURL("http://127.0.0.08") }
        #expect(try Validate.baseURL("http://[::1]:9") == "http://[::1]:9")
        // Fuzz finding (fuzz/seeds/Parsers/regression-mixed-case-scheme): accepted but not canonical.
        #expect(try Validate.baseURL("htTp://127.0.0.1:8080") == "http://127.0.0.1:8080")
        #expect(try Validate.baseURL("HTTPS://API.EU.XDR.TrendMicro.com/") == "https://api.eu.xdr.trendmicro.com")
        #expect(try Validate.baseURL("https://proxy.example/vision-one/") == "https://proxy.example/vision-one")
        // Fuzz finding (fuzz/seeds/Parsers/regression-odd-authority).
        for bad in ["http://api.example.com", "ftp://x", "https://user:pw@x.com", "https://x.com/?q=1", "not a url", "https://",
                    "http://127.0.0.1.evil.com", "https://IBe://a@com", "https://a:/x", "https://a:99999", "https://a//b",
                    "https://a/../b", "https://-a.com", "https://a..b", "https://[::2]", "https://a/b%20c"] {
            #expect(throws: (any Error).self, "\(bad)") { try Validate.baseURL(bad) }
        }
    }

    @Test("byte sizes")
    func sizes() throws {
        #expect(try ByteSize.parse("64M") == 64 << 20)
        #expect(try ByteSize.parse("1G") == 1 << 30)
        #expect(try ByteSize.parse("8k") == 8192)
        #expect(try ByteSize.parse("256MiB") == 256 << 20)
        for bad in ["", "M", "1.5G", "-1M", "99999999999999G", "12Q"] {
            #expect(throws: (any Error).self, "\(bad)") { try ByteSize.parse(bad) }
        }
        #expect(ByteSize.format(256 << 20) == "256M")
    }

    @Test("token bytes: printable ASCII without whitespace, 1...16384")
    func tokens() {
        func check(_ bytes: [UInt8]) -> VaultError? {
            var b = SecureBytes(capacity: bytes.count, empty: true)
            bytes.withUnsafeBytes { b.append($0) }
            do throws(VaultError) { try TokenInput.validate(b); return nil } catch { return error }
        }
        #expect(check(Array("eyJ.abc-_'\"$`\\=#".utf8)) == nil)
        #expect(check([]) == .invalidToken(reason: "empty input"))
        #expect(check(Array(repeating: 0x41, count: 16384)) == nil)
        #expect(check(Array(repeating: 0x41, count: 16385)) == .invalidToken(reason: "longer than 16 KiB"))
        #expect(check([0x41, 0x0A, 0x42]) == .invalidToken(reason: "contains a line break at byte 2 (only one trailing newline is stripped)"))
        #expect(check([0x41, 0x00]) == .invalidToken(reason: "contains a control character at byte 2"))
        #expect(check([0xC3, 0xA9]) == .invalidToken(reason: "contains a non-ASCII byte at byte 1"))
    }

    @Test("error messages escape control characters in user input")
    func displayEscapes() {
        #expect(VaultError.tokenNotFound(name: "a\u{1b}[31mb\nc").description == "no token named \"a\\x1b[31mb\\x0ac\"")
    }
}

@Suite("Connectivity rules")
struct ConnectivityRuleTests {
    @Test("requests go only to https, or http on loopback, at the documented path")
    func endpoints() {
        #expect(ConnectivityChecker.endpoint("https://api.xdr.trendmicro.com")?.absoluteString == "https://api.xdr.trendmicro.com/v3.0/healthcheck/connectivity")
        #expect(ConnectivityChecker.endpoint("http://127.0.0.1:8080")?.absoluteString == "http://127.0.0.1:8080/v3.0/healthcheck/connectivity")
        #expect(ConnectivityChecker.endpoint("http://[::1]:8080") != nil)
        #expect(ConnectivityChecker.endpoint("http://api.xdr.trendmicro.com") == nil)
        #expect(ConnectivityChecker.endpoint("http://127.0.0.1.nip.io") == nil)
    }

    @Test("server text is sanitised before display")
    func sanitise() {
        // C0, C1 (CSI U+009B, NEL U+0085), bidi overrides and line separators are shown escaped,
        // never raw; ordinary non-ASCII text is kept.
        #expect(ConnectivityChecker.sanitize("a\u{1b}[2Jb\nc", max: 100) == "a\\u001b[2Jb\\u000ac")
        #expect(ConnectivityChecker.sanitize("x\u{9b}31m\u{85}y\u{202e}z\u{2028}é🔒", max: 100) == "x\\u009b31m\\u0085y\\u202ez\\u2028é🔒")
        #expect(Sanitize.display("ok\tno\nline", keepNewlines: true) == "ok\tno\nline")
        #expect(ConnectivityChecker.sanitize(String(repeating: "x", count: 500), max: 10).count == 10)
    }
}

@Suite("Calendar arithmetic")
struct CalendarTests {
    @Test("integer civil-date maths agrees with Foundation's Gregorian calendar")
    func agreesWithFoundation() {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "UTC")!
        let f = ISO8601DateFormatter()
        f.timeZone = TimeZone(identifier: "UTC")
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let date = Date(timeIntervalSince1970: TimeInterval(Int64.random(in: 0...4_102_444_800, using: &rng)))
            #expect(Timestamp.iso(date) == f.string(from: date))
            for years in [1, 4, 100] {
                #expect(Timestamp.adding(years: years, to: date) == cal.date(byAdding: .year, value: years, to: date)!, "\(date) + \(years)y")
            }
        }
        let leap = Timestamp.parseDate("2028-02-29T10:00:00Z")!
        #expect(Timestamp.iso(Timestamp.adding(years: 1, to: leap)) == "2029-02-28T10:00:00Z")
        #expect(Timestamp.isoMilliseconds(Date(timeIntervalSince1970: 1.25)) == "1970-01-01T00:00:01.250Z")
        #expect(Timestamp.parseDate("2028-02-29") != nil && Timestamp.parseDate("2027-02-29") == nil && Timestamp.parseDate("2000-02-29") != nil && Timestamp.parseDate("2100-02-29") == nil)
    }

    @Test("weak passphrases: short, repeated, digits only, runs, keyboard rows, common words; strong ones pass", arguments: [
        ("short", "fewer than 12 characters"), ("zzzzzzzzzzzzzz", "one character repeated"), ("123456789012345", "only digits"),
        ("abcdefghijklmn", "a run of consecutive characters"), ("qwertyuiop12", "a keyboard row"),
        ("Password2024!", "a common password with digits or symbols around it"), ("!!visionone!!", "a common password with digits or symbols around it"),
        ("correct horse battery", nil), ("tr0ub4dor&3-staple", nil), ("ünïcødé pässphräsé", nil),
    ] as [(String, String?)])
    func weakness(passphrase: String, reason: String?) {
        #expect(Passphrase.weakness(secure(passphrase)) == reason)
    }
}
