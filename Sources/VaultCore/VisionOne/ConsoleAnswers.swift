import Foundation

/// Vision One's answers, read by structure (shared/visionone-api.md and Trend's own mock,
/// docs/FAKE-VISIONONE.md): the create answer's `[0].body.value`, never "the one member named
/// value" (a create element also carries `headers: [{"name": "Location", "value": …}]`).
/// Pure functions over parsed JSON, so the bodies of Trend's mock can be replayed through them.
enum ConsoleAnswers {
    /// One page of a list answer: `items` (an array; `null` is an empty page, as the SDK reads
    /// it) and `nextLink` (absent, `null` or empty: the last page).
    static func listPage(_ object: Any?) -> (items: [Any], next: String?)? {
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
    static let knownKeyMembers: Set<String> = ["id", "name", "status", "role", "description", "expiredDateTime", "lastUsedDateTime", "createdDateTime"]

    static func key(_ o: [String: Any]) -> ConsoleKey? {
        guard let id = o["id"] as? String, ConsoleLink.isValidID(id), let name = o["name"] as? String, ConsoleLink.isValidName(name) else { return nil }
        func text(_ k: String) -> String? { (o[k] as? String).map { Sanitize.serverText($0, max: 256) } }
        return ConsoleKey(id: id, name: name, status: text("status") ?? "unknown", role: text("role"), description: text("description"),
                          expires: text("expiredDateTime").flatMap(date), lastUsed: text("lastUsedDateTime").flatMap(date),
                          created: text("createdDateTime").flatMap(date), restrictionFields: restrictionFields(o))
    }

    /// Member names that look like an access restriction (an IP allow-list or CIDR list). No
    /// Trend source names such a field; a member like this means the key has something v1vault
    /// cannot copy to its successor.
    static func restrictionFields(_ o: [String: Any]) -> [String] {
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
    struct CreateElement: Equatable {
        var status: Int?
        var id: String?
        /// The id at the end of the element's `Location` header, when it has one.
        var locationID: String?
        var expires: String?
        var errorCode: String?
    }

    /// `[{"status", "headers"?: [{"name", "value"}], "body": {"id", "value", "expiredDateTime"} | {"error": …}}]`.
    /// nil unless the answer is an array of exactly one object.
    static func createElement(_ object: Any?) -> CreateElement? {
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
    static func deleteStatuses(_ object: Any?, count: Int) -> [Int?]? {
        guard let array = object as? [Any], array.count == count else { return nil }
        return array.map { ($0 as? [String: Any])?["status"] as? Int }
    }

    /// Vision One's error code: `{"error": {"code"}}`, or a bare `{"code"}` (one of the shapes
    /// Trend's mock answers 429 with). Only identifiers are repeated (see `safeCode`).
    static func errorCode(_ object: Any?) -> String? {
        guard let o = object as? [String: Any] else { return nil }
        let raw = (o["error"] as? [String: Any])?["code"] as? String ?? o["code"] as? String
        return raw.map(safeCode)
    }

    /// Vision One's error codes are identifiers (`InvalidCredentials`): anything else — a server
    /// echoing a request or a value into the field — is not repeated into stderr or the audit log.
    static func safeCode(_ s: String) -> String {
        let ok = !s.isEmpty && s.count <= 64 && s.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || "._-".utf8.contains($0) }
        return ok ? s : "(unreadable error code)"
    }

    /// ISO 8601 UTC, with or without fractional seconds. The SDK's model requires a string even
    /// for "never": year 9999 (never expires) and years before 1971 (never used) mean nil.
    static func date(_ s: String) -> Date? {
        var t = s
        if let dot = t.firstIndex(of: "."), t.hasSuffix("Z") { t = String(t[..<dot]) + "Z" }
        guard let d = Timestamp.parseDate(t), d.timeIntervalSince1970 > 365 * 86400, !t.hasPrefix("9999-") else { return nil }
        return d
    }

    /// Whether an expiry the console gave a new key fits `months` asked at `at`. The API does
    /// not say how it counts months, so every plausible reading is accepted (± 3 days): calendar
    /// months, 30-day months, and the console's own presets (30, 90, 180, 365 days).
    static func expiryFits(_ expires: Date, months: Int, at: Date) -> Bool {
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

/// Takes one string member out of a JSON text in place, found by its path from the root
/// (`[0].body.value`: array index 0, then member `body`, then member `value`). The value's bytes
/// are copied into secure memory, then overwritten with `x` in the buffer, so the rest of the
/// document can go through a JSON parser without the secret. Refuses (nil) when the member is
/// missing, not a plain string (a backslash escape: a Vision One key is base64url and dots),
/// present twice (parsers disagree on which of two wins), or when any member name in the
/// document is escaped (`"\u0076alue"` is `value` to a parser, not to this scanner).
enum JSONSecretExtractor {
    enum Step: Equatable { case index(Int), key(String) }

    static let createValue: [Step] = [.index(0), .key("body"), .key("value")]

    static func extract(_ buffer: UnsafeMutableRawBufferPointer, path wanted: [Step]) -> SecureBytes? {
        let b = buffer.bindMemory(to: UInt8.self)
        // For each open container: object (with the member being read and whether a name comes
        // next) or array (with the index of the element being read).
        struct Frame { var object: Bool; var expectKey: Bool; var key: String?; var index: Int }
        var stack: [Frame] = []
        var found: Range<Int>?
        var i = 0
        func skipString(_ start: Int) -> Int? {    // the index of the closing quote
            var j = start + 1
            while j < b.count {
                if b[j] == UInt8(ascii: "\\") { j += 2; continue }
                if b[j] == UInt8(ascii: "\"") { return j }
                j += 1
            }
            return nil
        }
        func path() -> [Step] { stack.map { $0.object ? .key($0.key ?? "") : .index($0.index) } }
        func valueStarts() {    // a value begins in the innermost container
            if let top = stack.last, top.object { stack[stack.count - 1].expectKey = false }
        }
        while i < b.count {
            switch b[i] {
            case UInt8(ascii: "{"):
                valueStarts()
                stack.append(Frame(object: true, expectKey: true, key: nil, index: 0)); i += 1
            case UInt8(ascii: "["):
                valueStarts()
                stack.append(Frame(object: false, expectKey: false, key: nil, index: 0)); i += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                _ = stack.popLast(); i += 1
            case UInt8(ascii: ","):
                if let top = stack.last {
                    if top.object { stack[stack.count - 1].expectKey = true } else { stack[stack.count - 1].index += 1 }
                }
                i += 1
            case UInt8(ascii: ":"):
                i += 1
            case UInt8(ascii: "\""):
                guard let end = skipString(i) else { return nil }
                if let top = stack.last, top.object, top.expectKey {
                    let name = Array(b[(i + 1)..<end])
                    guard !name.contains(UInt8(ascii: "\\")) else { return nil }
                    stack[stack.count - 1].key = String(decoding: name, as: UTF8.self)
                    stack[stack.count - 1].expectKey = false
                    i = end + 1
                    continue
                }
                valueStarts()
                if path() == wanted {
                    guard found == nil else { return nil }
                    let range = (i + 1)..<end
                    guard !range.isEmpty, !b[range].contains(UInt8(ascii: "\\")) else { return nil }
                    found = range
                }
                i = end + 1
            default:
                // A number, true, false or null: it may sit at the wanted path (not a string).
                if let top = stack.last, !(top.object && top.expectKey), b[i] > 0x20 {
                    valueStarts()
                    if path() == wanted { return nil }
                    while i < b.count, ![UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]")].contains(b[i]) { i += 1 }
                    continue
                }
                i += 1
            }
        }
        guard stack.isEmpty, let range = found else { return nil }
        let secret = SecureBytes(copying: UnsafeRawBufferPointer(rebasing: buffer[range]))
        for k in range { b[k] = UInt8(ascii: "x") }
        return secret
    }
}
