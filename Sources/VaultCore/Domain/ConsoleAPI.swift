import Foundation

/// A key as Vision One's Administration > API Keys lists it.
public struct ConsoleKey: Sendable, Equatable {
    public var id: String
    public var name: String
    public var status: String
    public var role: String?
    public var description: String?
    public var expires: Date?
    public var lastUsed: Date?
    /// `createdDateTime`, when the console gives it.
    public var created: Date? = nil
    public var enabled: Bool { status == "enabled" }
}

/// A console call that did not succeed: Vision One's error code and trace id only (never a
/// body, never a token), or what went wrong on the network.
public struct ConsoleFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var call: String
    public var host: String
    public var status: Int?
    public var code: String?
    public var traceID: String?
    public var network: String?

    public var description: String {
        var s = "\(call) at \(host): "
        if let network { s += network } else {
            s += "HTTP \(status ?? 0)"
            if let code { s += " \(code)" }
        }
        if let traceID { s += " (trace id \(traceID))" }
        return s
    }

    /// The console answered with a definite refusal (4xx other than 408): nothing was done.
    var definite: Bool { network == nil && (status.map { (400...499).contains($0) && $0 != 408 } ?? false) }
}

/// Vision One's API-keys API (`/v3.0/iam/apiKeys`, ../shared/visionone-api.md), called with a
/// manager key held in secure memory. Bounded: each request has a timeout; GET, PATCH and
/// delete are retried up to 3 times on 429 (honouring Retry-After up to 30 s), 5xx and
/// dropped connections; create is never retried here (the renewal intent makes a lost
/// create recoverable instead).
public final class ConsoleAPI: @unchecked Sendable {
    public let baseURL: String
    let host: String
    let manager: SecretView
    let timeoutMs: Int
    let attempts = 3
    /// Upper bound on a Retry-After wait (seconds).
    let maxRetryAfter: Int
    /// Keys the last `list` could not represent (skipped, never acted on).
    public private(set) var skipped = 0

    public init(baseURL: String, manager: SecretView, timeout: TimeInterval = 30, maxRetryAfter: Int = 30) {
        self.baseURL = baseURL
        self.host = URLComponents(string: baseURL)?.host ?? baseURL
        self.manager = manager
        self.timeoutMs = Int(timeout * 1000)
        self.maxRetryAfter = maxRetryAfter
    }

    static let keysPath = "/v3.0/iam/apiKeys"

    // MARK: Calls

    /// Every key in the organisation (all pages), optionally filtered by exact name.
    public func list(name: String? = nil) throws(ConsoleFailure) -> [ConsoleKey] {
        var url = baseURL + Self.keysPath + "?orderBy=" + "createdDateTime%20desc" + "&top=200"
        var headers: [String] = []
        if let name { headers.append("TMV1-Filter: name eq '\(name.replacingOccurrences(of: "'", with: "''"))'") }
        var keys: [ConsoleKey] = []
        var seenIDs = Set<String>(), seenLinks = Set<String>()
        let deadline = Date().addingTimeInterval(600)
        skipped = 0
        // Bounded: 10 minutes, 200,000 keys, and a link that repeats or a page with nothing new
        // ends it (a looping nextLink would otherwise hold the run lock for hours).
        while Date() < deadline, keys.count < 200_000 {
            let r = try call("list", method: "GET", url: url, headers: headers)
            guard r.status == 200, let object = json(r.body) as? [String: Any], let items = object["items"] as? [Any] else {
                throw failure("list", r)
            }
            var fresh = 0
            for item in items {
                // A key v1vault cannot represent (a name with control or bidi characters, an odd
                // id) is counted and never acted on; it does not stop the listing.
                guard let o = item as? [String: Any], let key = Self.key(o) else { skipped += 1; continue }
                if seenIDs.insert(key.id).inserted { keys.append(key); fresh += 1 }
            }
            if fresh == 0 && !items.isEmpty { throw ConsoleFailure(call: "list", host: host, code: "a page repeated earlier keys") }
            guard let next = object["nextLink"] as? String, !next.isEmpty else { return keys }
            // As Trend's SDK does: only nextLink's path and query are used, on this base URL
            // (the bearer never follows a link to another host), and the filter is sent again.
            guard let link = URLComponents(string: next), link.path.hasSuffix(Self.keysPath), let query = link.percentEncodedQuery,
                  !query.contains("#") else {
                throw failure("list", r, code: "unexpected nextLink")
            }
            url = baseURL + Self.keysPath + "?" + query
            guard seenLinks.insert(url).inserted else { throw ConsoleFailure(call: "list", host: host, code: "nextLink repeats") }
        }
        throw ConsoleFailure(call: "list", host: host, code: keys.count >= 200_000 ? "more than 200,000 keys" : "listing took over 10 minutes")
    }

    /// One key and its ETag.
    public func get(_ id: String) throws(ConsoleFailure) -> (key: ConsoleKey, etag: String) {
        let r = try call("get", method: "GET", url: keyURL(id))
        guard r.status == 200, let o = json(r.body) as? [String: Any], let key = Self.key(o), key.id == id, let etag = r.etag else {
            throw failure("get", r)
        }
        return (key, etag)
    }

    /// PATCH with If-Match. Returns false on 412 (the ETag went stale).
    public func update(_ id: String, etag: String, fields: [String: String]) throws(ConsoleFailure) -> Bool {
        let body = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
        // Sent unquoted, as Trend's SDK sends it; printable ASCII only (it goes into a header).
        let tag = etag.hasPrefix("\"") && etag.hasSuffix("\"") && etag.count >= 2 ? String(etag.dropFirst().dropLast()) : etag
        guard !tag.isEmpty, tag.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { throw ConsoleFailure(call: "update", host: host, code: "invalid ETag") }
        let r = try call("update", method: "PATCH", url: keyURL(id), headers: ["If-Match: \(tag)"], body: body)
        if r.status == 412 { return false }
        guard r.status == 204 || r.status == 200 else { throw failure("update", r) }
        return true
    }

    /// Sets a key's status, re-reading the ETag once if it went stale.
    public func setStatus(_ id: String, enabled: Bool) throws(ConsoleFailure) {
        for _ in 0..<2 {
            let (key, etag) = try get(id)
            if key.enabled == enabled { return }
            if try update(id, etag: etag, fields: ["status": enabled ? "enabled" : "disabled"]) { return }
        }
        throw ConsoleFailure(call: "update", host: host, status: 412, code: "ETag kept changing")
    }

    /// Deletes keys; returns per id whether it is gone (204, or 404: already gone).
    public func delete(_ ids: [String]) throws(ConsoleFailure) -> [String: Bool] {
        let body = try? JSONSerialization.data(withJSONObject: ids.map { ["id": $0] })
        let r = try call("delete", method: "POST", url: baseURL + Self.keysPath + "/delete", body: body)
        guard r.status == 207, let array = json(r.body) as? [Any], array.count == ids.count else { throw failure("delete", r) }
        var out: [String: Bool] = [:]
        for (id, element) in zip(ids, array) {
            let status = (element as? [String: Any])?["status"] as? Int
            out[id] = status == 204 || status == 200 || status == 404
        }
        return out
    }

    /// What create returned: the value in secure memory, never anywhere else.
    public struct Created: ~Copyable {
        public var id: String
        public var value: SecureBytes
        public var expires: Date?
    }

    /// Creates one key. The response body is received into locked memory; the `value` field is
    /// copied from there into secure memory and blanked before anything parses the rest.
    public func create(name: String, role: String, months: Int, description: String?) throws(ConsoleFailure) -> Created {
        var item: [String: Any] = ["name": name, "role": role, "monthsToExpiration": months]
        if let description { item["description"] = description }
        let body = try? JSONSerialization.data(withJSONObject: [item], options: [.sortedKeys])
        final class Box: @unchecked Sendable { var secret: SecureBytes? }
        let box = Box()
        var request = HTTPExchange(method: "POST", url: baseURL + Self.keysPath, body: body, timeoutMs: timeoutMs)
        request.secureBody = true
        let sent = manager.withUnsafeBytes { bearer in
            request.send(bearer: bearer) { buffer in
                // [ { "status": 201, "body": { "id", "value", "expiredDateTime" } } ]: depth 2.
                box.secret = JSONSecretExtractor.extract(buffer, key: "value", depth: 2)
                // Only a body whose value was taken out (and blanked) is parsed; any other stays
                // in the locked buffer, which is zeroed: the create counts as failed.
                if box.secret != nil { return Data(buffer) }
                // No value taken out: parse it (for the element's status and error code) only
                // when it plainly holds none — no "value" member, no \u escapes that could spell one.
                let bytes = buffer.bindMemory(to: UInt8.self)
                func has(_ s: String) -> Bool {
                    let n = Array(s.utf8)
                    guard bytes.count >= n.count else { return false }
                    return (0...(bytes.count - n.count)).contains { i in (0..<n.count).allSatisfy { bytes[i + $0] == n[$0] } }
                }
                return has("value") || has("\\u") ? nil : Data(buffer)
            }
        }
        let r: HTTPExchange.Response
        switch sent {
        case .failure(let f): throw ConsoleFailure(call: "create", host: host, network: f.message)
        case .success(let response): r = response
        }
        guard r.status == 207, let array = json(r.body) as? [Any], array.count == 1, let element = array[0] as? [String: Any] else {
            throw failure("create", r)
        }
        let status = element["status"] as? Int
        let inner = element["body"] as? [String: Any]
        guard status == 201 || status == 200, let id = inner?["id"] as? String, ConsoleLink.isValidID(id),
              let value = box.secret.take() else {
            let code = ((inner?["error"] as? [String: Any])?["code"] as? String).map(Self.errorCode)
            throw ConsoleFailure(call: "create", host: host, status: status ?? r.status, code: code ?? "no key in the answer (or not exactly one value)", traceID: r.traceID)
        }
        return Created(id: id, value: value, expires: (inner?["expiredDateTime"] as? String).flatMap(Self.date))
    }

    /// Whether `token` works (the connectivity endpoint), with the same client.
    public func connectivity(_ token: UnsafeRawBufferPointer) -> Result<Void, ConsoleFailure> {
        let request = HTTPExchange(method: "GET", url: baseURL + ConnectivityChecker.path, timeoutMs: timeoutMs)
        switch request.send(bearer: token) {
        case .failure(let f): return .failure(ConsoleFailure(call: "connectivity", host: host, network: f.message))
        case .success(let r):
            if ConnectivityChecker.isAvailable(status: r.status, body: r.body) { return .success(()) }
            return .failure(failure("connectivity", r))
        }
    }

    // MARK: Plumbing

    func keyURL(_ id: String) -> String {
        baseURL + Self.keysPath + "/" + (id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? id)
    }

    /// One request, retried up to `attempts` times on 429 (after Retry-After), 5xx and network failures.
    func call(_ name: String, method: String, url: String, headers: [String] = [], body: Data? = nil) throws(ConsoleFailure) -> HTTPExchange.Response {
        let request = HTTPExchange(method: method, url: url, headers: headers, body: body, timeoutMs: timeoutMs)
        var last: ConsoleFailure?
        for attempt in 1...attempts {
            let sent = manager.withUnsafeBytes { request.send(bearer: $0) }
            switch sent {
            case .success(let r) where r.status == 429 || (500...599).contains(r.status):
                last = failure(name, r)
                guard attempt < attempts else { break }
                let wait = r.status == 429 ? min(max(r.retryAfter ?? 1, 0), maxRetryAfter) : attempt
                Thread.sleep(forTimeInterval: TimeInterval(wait))
            case .success(let r):
                return r
            case .failure(let f):
                last = ConsoleFailure(call: name, host: host, network: f.message)
                if attempt < attempts { Thread.sleep(forTimeInterval: TimeInterval(attempt) * 0.5) }
            }
        }
        throw last!
    }

    func json(_ data: Data?) -> Any? { data.flatMap { try? JSONSerialization.jsonObject(with: $0) } }

    func failure(_ call: String, _ r: HTTPExchange.Response, code: String? = nil) -> ConsoleFailure {
        let error = (json(r.body) as? [String: Any])?["error"] as? [String: Any]
        return ConsoleFailure(call: call, host: host, status: r.status,
                              code: code ?? (error?["code"] as? String).map(Self.errorCode), traceID: r.traceID)
    }

    /// Vision One's error codes are identifiers (`InvalidCredentials`): anything else — a server
    /// echoing a request or a value into the field — is not repeated into stderr or the audit log.
    static func errorCode(_ s: String) -> String {
        let ok = !s.isEmpty && s.count <= 64 && s.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || "._-".utf8.contains($0) }
        return ok ? s : "(unreadable error code)"
    }

    static func key(_ o: [String: Any]) -> ConsoleKey? {
        guard let id = o["id"] as? String, ConsoleLink.isValidID(id), let name = o["name"] as? String, ConsoleLink.isValidName(name) else { return nil }
        func text(_ k: String) -> String? { (o[k] as? String).map { Sanitize.serverText($0, max: 256) } }
        return ConsoleKey(id: id, name: name, status: text("status") ?? "unknown", role: text("role"), description: text("description"),
                          expires: text("expiredDateTime").flatMap(date), lastUsed: text("lastUsedDateTime").flatMap(date),
                          created: text("createdDateTime").flatMap(date))
    }

    /// ISO 8601 UTC, with or without fractional seconds. The SDK's model requires a string even
    /// for "never": year 9999 (never expires) and years before 1971 (never used) mean nil.
    static func date(_ s: String) -> Date? {
        var t = s
        if let dot = t.firstIndex(of: "."), t.hasSuffix("Z") { t = String(t[..<dot]) + "Z" }
        guard let d = Timestamp.parseDate(t), d.timeIntervalSince1970 > 365 * 86400, !t.hasPrefix("9999-") else { return nil }
        return d
    }
}
