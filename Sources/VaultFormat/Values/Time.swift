import Foundation

/// The source of "now" for everything in VaultCore, injected so expiry logic is testable
/// without real time.
public struct Clock: Sendable {
    public var now: @Sendable () -> Date
    public init(now: @escaping @Sendable () -> Date) { self.now = now }
    public static let system = Clock { Date() }
    /// A clock frozen at `date`.
    public static func fixed(_ date: Date) -> Clock { Clock { date } }
}

/// Timestamps are stored as integer Unix seconds (UTC) and shown as ISO 8601. Formatting and
/// calendar arithmetic are plain integer maths on the proleptic Gregorian calendar (no ICU
/// formatter or Calendar per call: `list` formats two dates per token).
public enum Timestamp {
    public static func seconds(_ date: Date) -> Int64 { Int64(date.timeIntervalSince1970.rounded(.down)) }
    public static func date(_ seconds: Int64) -> Date { Date(timeIntervalSince1970: TimeInterval(seconds)) }

    /// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
    package static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    /// The civil date of a day number (inverse of `days`).
    package static func civil(_ dayNumber: Int) -> (year: Int, month: Int, day: Int) {
        let z = dayNumber + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp + (mp < 10 ? 3 : -9)
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    package static func isLeap(_ y: Int) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

    package static func daysIn(month: Int, year: Int) -> Int {
        [31, isLeap(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    }

    private static func pad(_ v: Int, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    /// `2027-01-31T09:30:00Z`
    public static func iso(_ date: Date) -> String {
        let secs = Int(seconds(date))
        let dayNumber = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400
        let sod = secs - dayNumber * 86400
        let c = civil(dayNumber)
        return "\(pad(c.year, 4))-\(pad(c.month, 2))-\(pad(c.day, 2))T\(pad(sod / 3600, 2)):\(pad(sod / 60 % 60, 2)):\(pad(sod % 60, 2))Z"
    }

    /// `2027-01-31T09:30:00.123Z` (audit rows).
    package static func isoMilliseconds(_ date: Date) -> String {
        let ms = Int((date.timeIntervalSince1970 * 1000).rounded(.down))
        let whole = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        let base = iso(Date(timeIntervalSince1970: TimeInterval(whole)))
        return String(base.dropLast()) + "." + pad(ms - whole * 1000, 3) + "Z"
    }

    /// `2027-01-31` (UTC)
    public static func day(_ date: Date) -> String {
        String(iso(date).prefix(10))
    }

    /// `date` plus whole calendar years, clamping Feb 29 to Feb 28 as calendars do.
    package static func adding(years: Int, to date: Date) -> Date {
        let secs = Int(seconds(date))
        let dayNumber = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400
        let sod = secs - dayNumber * 86400
        let c = civil(dayNumber)
        let y = c.year + years
        let d = min(c.day, daysIn(month: c.month, year: y))
        let frac = date.timeIntervalSince1970 - TimeInterval(secs)
        return Date(timeIntervalSince1970: TimeInterval(days(year: y, month: c.month, day: d) * 86400 + sod) + frac)
    }

    /// Parses `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDTHH:MM:SSZ`; nil if neither.
    public static func parseDate(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        func digits(_ r: Range<Int>) -> Int? {
            guard r.upperBound <= bytes.count else { return nil }
            var v = 0
            for b in bytes[r] { guard b >= 48, b <= 57 else { return nil }; v = v * 10 + Int(b - 48) }
            return v
        }
        guard bytes.count == 10 || bytes.count == 20,
              let y = digits(0..<4), bytes[4] == 45, let m = digits(5..<7), bytes[7] == 45, let d = digits(8..<10)
        else { return nil }
        var secondsOfDay = 0
        if bytes.count == 20 {
            guard bytes[10] == 84, let h = digits(11..<13), bytes[13] == 58, let mi = digits(14..<16), bytes[16] == 58,
                  let s = digits(17..<19), bytes[19] == 90, h < 24, mi < 60, s < 60 else { return nil }
            secondsOfDay = h * 3600 + mi * 60 + s
        }
        // Calendar-invalid dates such as 2027-02-30 are rejected, not rolled over.
        guard (1970...9999).contains(y), (1...12).contains(m), (1...daysIn(month: m, year: y)).contains(d) else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(days(year: y, month: m, day: d) * 86400 + secondsOfDay))
    }
}

/// A length of time written `Nd`, `Nw`, `Nh` or `Ny` (calendar years).
public struct DurationSpec: Equatable, Sendable {
    public enum Unit: Character, Sendable { case hours = "h", days = "d", weeks = "w", years = "y" }
    public let amount: Int
    public let unit: Unit

    public static func parse(_ text: String) throws(VaultError) -> DurationSpec {
        let t = text.lowercased()
        guard let last = t.last, let unit = Unit(rawValue: last) else {
            throw .invalidInput(reason: "invalid duration \(displayName(text))", hint: "use e.g. 30d, 12h, 2w or 1y")
        }
        let digits = t.dropLast()
        guard !digits.isEmpty, digits.count <= 6, digits.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let n = Int(digits) else {
            throw .invalidInput(reason: "invalid duration \(displayName(text))", hint: "use e.g. 30d, 12h, 2w or 1y")
        }
        let maxDays: Int
        switch unit {
        case .hours: maxDays = n / 24
        case .days: maxDays = n
        case .weeks: maxDays = n * 7
        case .years: maxDays = n * 366
        }
        guard maxDays <= 100 * 366 else {
            throw .invalidInput(reason: "duration \(displayName(text)) is longer than 100 years", hint: nil)
        }
        return DurationSpec(amount: n, unit: unit)
    }

    /// `date` moved forward by this duration (calendar years in UTC).
    public func added(to date: Date) -> Date {
        switch unit {
        case .hours: return date.addingTimeInterval(TimeInterval(amount) * 3600)
        case .days: return date.addingTimeInterval(TimeInterval(amount) * 86400)
        case .weeks: return date.addingTimeInterval(TimeInterval(amount) * 7 * 86400)
        case .years: return Timestamp.adding(years: amount, to: date)
        }
    }
}

/// When a token version expires: `never`, a duration from now (`90d`, `180d`, `1y`) or a date
/// (`2027-01-31`, `2027-01-31T12:00:00Z`). Vision One's console offers 30/60/90/180 days,
/// one year (the default) and no expiry.
public enum ExpirySpec {
    /// nil means "never expires".
    public static func parse(_ text: String, now: Date) throws(VaultError) -> Date? {
        if text.lowercased() == "never" { return nil }
        let date: Date
        if let d = Timestamp.parseDate(text) {
            date = d
        } else if let d = try? DurationSpec.parse(text) {
            date = d.added(to: now)
        } else {
            throw .invalidInput(reason: "invalid expiry \(displayName(text))",
                                hint: "use 30d, 90d, 180d, 1y, never, or a date like 2027-01-31")
        }
        guard date > now else {
            throw .invalidInput(reason: "expiry \(Timestamp.iso(date)) is not in the future", hint: nil)
        }
        return date
    }
}

/// Where a token stands relative to its expiry.
public enum ExpiryStatus: String, Codable, Sendable {
    case ok, expiring, expired, never

    public static let defaultWarnDays = 30

    /// `created` scales the warning window to the version's lifetime (see `window`).
    /// `own`: the token's own window in days (`vault edit --warn-days`), which replaces the rule.
    public static func of(expires: Date?, created: Date? = nil, now: Date, warnDays: Int = defaultWarnDays, own: Int? = nil) -> ExpiryStatus {
        guard let expires else { return .never }
        if expires <= now { return .expired }
        let window = own.map { TimeInterval($0) * 86400 } ?? window(expires: expires, created: created, warnDays: warnDays)
        if expires.timeIntervalSince(now) <= window { return .expiring }
        return .ok
    }

    /// How long before `expires` a version counts as expiring: `warnDays` (V1VAULT_WARN_DAYS,
    /// default 30), but never more than a third of the version's lifetime — a 30-day key
    /// warns in its last 10 days, not from its first; a one-year key in its last 30.
    public static func window(expires: Date, created: Date?, warnDays: Int) -> TimeInterval {
        let fixed = TimeInterval(warnDays) * 86400
        guard let created, expires > created else { return fixed }
        return min(fixed, expires.timeIntervalSince(created) / 3)
    }

    /// Whole days until `expires`, rounded down; negative once expired.
    public static func daysLeft(expires: Date, now: Date) -> Int {
        Int((expires.timeIntervalSince(now) / 86400).rounded(.down))
    }
}

/// Short spans for timeouts and KDF targets: `500ms`, `1s`, `2.5s`.
public enum TimeSpan {
    public static func milliseconds(_ text: String, flag: String) throws(VaultError) -> Int64 {
        let t = text.lowercased()
        var number = t, scale = 1.0
        if t.hasSuffix("ms") { number = String(t.dropLast(2)) } else if t.hasSuffix("s") { number = String(t.dropLast()); scale = 1000 }
        guard !number.isEmpty, number.count <= 8, number.allSatisfy({ $0.isNumber || $0 == "." }), let v = Double(number), v > 0 else {
            throw .invalidInput(reason: "invalid \(flag) \(displayName(text))", hint: "use e.g. 500ms, 1s or 2.5s")
        }
        return Int64((v * scale).rounded())
    }

    /// A network time limit (`--timeout` of `check`, `add --check`, `rotate --check`): at least
    /// 1 ms after rounding (libcurl reads 0 as "no limit") and at most 300 s.
    public static func timeout(_ text: String) throws(VaultError) -> Int64 {
        let ms = try milliseconds(text, flag: "--timeout")
        guard (1...300_000).contains(ms) else {
            throw .invalidInput(reason: "--timeout must be between 1ms and 300s", hint: nil)
        }
        return ms
    }
}
