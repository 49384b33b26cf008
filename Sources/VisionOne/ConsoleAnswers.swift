import Foundation
import VaultFormat

/// Vision One's answers, read by structure (shared/visionone-api.md and Trend's own mock,
/// docs/FAKE-VISIONONE.md): the create answer's `[0].body.value`, never "the one member named
/// value" (a create element also carries `headers: [{"name": "Location", "value": …}]`).
/// Pure functions over parsed JSON, so the bodies of Trend's mock can be replayed through them.
package enum ConsoleAnswers {
    /// One page of a list answer: `items` (an array; `null` is an empty page, as the SDK reads
    /// it) and `nextLink` (absent, `null` or empty: the last page).
    package static func listPage(_ object: Any?) -> (items: [Any], next: String?)? {
        guard let o = object as? [String: Any], o.keys.contains("items") else { return nil }
        let items: [Any]
        switch o["items"] {
        case let array as [Any]: items = array
        case is NSNull: items = []
        default: return nil
        }
        let next = (o["nextLink"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        return (items, next)
    }

    /// The members of Trend's ApiKey model (pytmv1 `ApiKey`, the mock's get/list bodies), plus
    /// `createdDateTime` which some answers may carry.
    package static let knownKeyMembers: Set<String> = ["id", "name", "status", "role", "description", "expiredDateTime", "lastUsedDateTime", "createdDateTime"]

    package static func key(_ o: [String: Any]) -> ConsoleKey? {
        guard let id = o["id"] as? String, ConsoleLink.isValidID(id), let name = o["name"] as? String, ConsoleLink.isValidName(name) else { return nil }
        func text(_ k: String) -> String? { (o[k] as? String).map { Sanitize.serverText($0, max: 256) } }
        var key = ConsoleKey(id: id, name: name, status: text("status") ?? "unknown", role: text("role"), description: text("description"),
                             expires: text("expiredDateTime").flatMap(date), lastUsed: text("lastUsedDateTime").flatMap(date),
                             created: text("createdDateTime").flatMap(date), restrictionFields: restrictionFields(o))
        key.usageShown = usageShown(o["lastUsedDateTime"])
        return key
    }

    /// Whether a `lastUsedDateTime` says the key was used. Fail safe: only absence, null, an
    /// empty string or a stamp before 1971 (the SDK's "never", e.g. 0001-01-01) mean unused;
    /// anything else — a date, or a value in a form v1vault does not read — means used.
    package static func usageShown(_ value: Any?) -> Bool {
        switch value {
        case nil, is NSNull: return false
        case let s as String:
            let t = s.trimmingCharacters(in: .whitespaces)
            if t.isEmpty { return false }
            if let d = date(t) { return d.timeIntervalSince1970 > 365 * 86400 }
            if let year = Int(t.prefix(4)), t.count >= 4, year < 1971 { return false }
            return true
        case let n as NSNumber: return n.doubleValue > 365 * 86400
        default: return true
        }
    }

    /// Member names that look like an access restriction (an IP allow-list or CIDR list). No
    /// Trend source names such a field; a member like this means the key has something v1vault
    /// cannot copy to its successor.
    package static func restrictionFields(_ o: [String: Any]) -> [String] {
        o.keys.filter { k in
            guard !knownKeyMembers.contains(k), k.count <= 64, k.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 95 }) else { return false }
            let l = k.lowercased()
            guard ["cidr", "allow", "whitelist", "restrict", "iprange", "ipaddress", "ipaddr", "sourceip"].contains(where: l.contains) || l.hasPrefix("ip") else { return false }
            // Only a member that holds something: an empty list or null restricts nothing.
            switch o[k] {
            case let a as [Any]: return !a.isEmpty
            case let s as String: return !s.isEmpty
            case is NSNull, nil: return false
            default: return true
            }
        }.sorted().prefix(5).map { $0 }
    }

    /// One element of a 207 create answer, the secret already taken out.
    package struct CreateElement: Equatable {
        package var status: Int?
        package var id: String?
        /// The id at the end of the element's `Location` header, when it has one.
        package var locationID: String?
        package var expires: String?
        package var errorCode: String?
    }

    /// `[{"status", "headers"?: [{"name", "value"}], "body": {"id", "value", "expiredDateTime"} | {"error": …}}]`.
    /// nil unless the answer is an array of exactly one object.
    package static func createElement(_ object: Any?) -> CreateElement? {
        guard let array = object as? [Any], array.count == 1, let element = array[0] as? [String: Any] else { return nil }
        let body = element["body"] as? [String: Any]
        var out = CreateElement(status: element["status"] as? Int, id: body?["id"] as? String, expires: body?["expiredDateTime"] as? String,
                                errorCode: body.flatMap(errorCode))
        for header in element["headers"] as? [Any] ?? [] {
            guard let h = header as? [String: Any], (h["name"] as? String)?.lowercased() == "location", let v = h["value"] as? String else { continue }
            let last = URLComponents(string: v)?.path.split(separator: "/").last.map(String.init) ?? ""
            out.locationID = last.removingPercentEncoding ?? last
        }
        return out
    }

    /// Per input, the element's status of a 207 delete answer; nil unless it has one element per id.
    package static func deleteStatuses(_ object: Any?, count: Int) -> [Int?]? {
        guard let array = object as? [Any], array.count == count else { return nil }
        return array.map { ($0 as? [String: Any])?["status"] as? Int }
    }

    /// Vision One's error code: `{"error": {"code"}}`, or a bare `{"code"}` (one of the shapes
    /// Trend's mock answers 429 with). Only identifiers are repeated (see `safeCode`).
    package static func errorCode(_ object: Any?) -> String? {
        guard let o = object as? [String: Any] else { return nil }
        let raw = (o["error"] as? [String: Any])?["code"] as? String ?? o["code"] as? String
        return raw.map(safeCode)
    }

    /// Vision One's error codes are identifiers (`InvalidCredentials`): anything else — a server
    /// echoing a request or a value into the field — is not repeated into stderr or the audit log.
    package static func safeCode(_ s: String) -> String {
        let ok = !s.isEmpty && s.count <= 64 && s.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || "._-".utf8.contains($0) }
        return ok ? s : "(unreadable error code)"
    }

    /// ISO 8601 UTC, with or without fractional seconds. The SDK's model requires a string even
    /// for "never": year 9999 (never expires) and years before 1971 (never used) mean nil.
    package static func date(_ s: String) -> Date? {
        guard let d = anyDate(s), d.timeIntervalSince1970 > 365 * 86400, !s.hasPrefix("9999-") else { return nil }
        return d
    }

    /// ISO 8601 in the spellings a server may use: `Z`/`z` or a `±hh:mm` offset, `T` or a space,
    /// with or without fractional seconds.
    package static func anyDate(_ s: String) -> Date? {
        var t = s.trimmingCharacters(in: .whitespaces)
        guard t.count >= 19, t.count <= 40 else { return nil }
        if t.hasSuffix("z") { t = String(t.dropLast()) + "Z" }
        let chars = Array(t)
        if chars[10] == " " || chars[10] == "t" { t = String(chars[..<10]) + "T" + String(chars[11...]) }
        // Drop fractional seconds (before the zone).
        if let dot = t.firstIndex(of: ".") {
            var end = t.index(after: dot)
            while end < t.endIndex, t[end].isNumber { end = t.index(after: end) }
            t = String(t[..<dot]) + String(t[end...])
        }
        if t.hasSuffix("Z") { return Timestamp.parseDate(t) }
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: t)
    }

    /// Whether an expiry the console gave a new key fits `months` asked at `at`. The API does
    /// not say how it counts months, so every plausible reading is accepted (± 3 days): calendar
    /// months, 30-day months, and the console's own presets (30, 90, 180, 365 days).
    package static func expiryFits(_ expires: Date, months: Int, at: Date) -> Bool {
        guard months > 0 else { return false }
        let calendar = Calendar(identifier: .gregorian)
        var utc = calendar
        utc.timeZone = TimeZone(identifier: "UTC")!
        let preset: [Int: Double] = [1: 30, 3: 90, 6: 180, 12: 365]
        let readings = [utc.date(byAdding: .month, value: months, to: at) ?? at,
                        at.addingTimeInterval(Double(months) * 30 * 86400),
                        at.addingTimeInterval((preset[months] ?? Double(months) * 30) * 86400)]
        let slack: TimeInterval = 3 * 86400
        return expires >= readings.min()!.addingTimeInterval(-slack) && expires <= readings.max()!.addingTimeInterval(slack)
    }
}
