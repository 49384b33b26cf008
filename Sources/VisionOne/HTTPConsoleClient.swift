import Foundation
import VaultFormat

/// Sends one HTTP exchange. `CurlTransport` is the real one (libcurl through CHTTP); tests
/// script answers (Trend's mock bodies, 429s, timeouts) without a network.
package protocol HTTPTransport: Sendable {
    /// With `request.secureBody`, `secure` receives the body buffer (mutable, so it can take a
    /// secret out and blank it) before it is zeroed, and the response's `body` is what it returns.
    func send(_ request: HTTPExchange, bearer: UnsafeRawBufferPointer,
              secure: ((UnsafeMutableRawBufferPointer) -> Data?)?) -> Result<HTTPExchange.Response, HTTPExchange.NetworkFailure>
}

package struct CurlTransport: HTTPTransport {
    package func send(_ request: HTTPExchange, bearer: UnsafeRawBufferPointer,
              secure: ((UnsafeMutableRawBufferPointer) -> Data?)?) -> Result<HTTPExchange.Response, HTTPExchange.NetworkFailure> {
        request.send(bearer: bearer, secure: secure)
    }
}

/// How the console client waits and retries. Vision One counts requests over a 60-second
/// window and documents no `Retry-After` for its 429s, so without one the client backs off
/// across that window (5 + 10 + 20 + 30 s); with one it waits what it says, up to 60 s. All
/// requests of one client share the wait (one 429 pauses every job of the run), and the total
/// waited per client is bounded, so a run always ends.
public struct ConsoleRetryPolicy: Sendable {
    public var rateLimitDelays: [TimeInterval] = [5, 10, 20, 30]
    public var maxRetryAfter: TimeInterval = 60
    public var rateLimitBudget: TimeInterval = 300
    /// Reads, updates and deletes are retried after 5xx and network failures with these delays;
    /// a create never is (its outcome is unknown: the renewal intent covers it).
    public var transientDelays: [TimeInterval] = [1, 2]
    /// After this many requests in a row that failed (timeouts, 5xx, 429s given up on), the
    /// client stops calling the console for the rest of the run: a service that hangs every
    /// request must not hold the run (and its lock) for hours.
    public var breakerLimit = 5
    public var sleep: @Sendable (TimeInterval) -> Void = { Thread.sleep(forTimeInterval: $0) }
    public var now: @Sendable () -> Date = { Date() }
    public init() {}
}

/// The rate-limit pause shared by every request of one client. The budget counts the time
/// the client is paused (however many requests wait out the same pause), not waits per request.
package final class RateLimitGate: @unchecked Sendable {
    private let lock = NSLock()
    private var notBefore = Date.distantPast
    private var paused: TimeInterval = 0
    private var spent = false
    private var failuresInARow = 0
    package let policy: ConsoleRetryPolicy

    /// Counts a request's outcome; true once the breaker is open.
    package func record(failed: Bool) {
        lock.withLock { failuresInARow = failed ? failuresInARow + 1 : 0 }
    }
    package var broken: Bool { lock.withLock { failuresInARow >= policy.breakerLimit } }

    package init(policy: ConsoleRetryPolicy) { self.policy = policy }

    /// Waits until the pause (if any) is over. False when the budget is spent.
    package func pass() -> Bool {
        let wait: TimeInterval = lock.withLock { spent ? -1 : max(0, notBefore.timeIntervalSince(policy.now())) }
        if wait < 0 { return false }
        if wait > 0 { policy.sleep(wait) }
        return true
    }

    /// Starts (or extends) a pause of `delay` seconds from now; past the budget, the client
    /// stops instead.
    package func pause(_ delay: TimeInterval) {
        lock.withLock {
            let now = policy.now()
            let until = max(notBefore, now.addingTimeInterval(delay))
            let added = until.timeIntervalSince(max(notBefore, now))
            guard paused + added <= policy.rateLimitBudget + 0.001 else { spent = true; return }
            paused += added
            notBefore = until
        }
    }
}

/// Vision One's API-keys API over HTTPS (libcurl), called with a manager key held in secure
/// memory. Each request has a timeout above the service's own 60 s (so a slow answer is a
/// definite 504, not a guess); 429s wait as `ConsoleRetryPolicy` says; reads, updates and
/// deletes are retried on 5xx and dropped connections; create only on 429 (not processed).
public final class HTTPConsoleClient: ConsoleClient, @unchecked Sendable {
    public let baseURL: String
    public let host: String
    package let manager: SecretView
    package let timeoutMs: Int
    package let transport: any HTTPTransport
    package let gate: RateLimitGate
    package var policy: ConsoleRetryPolicy { gate.policy }

    public convenience init(baseURL: String, manager: SecretView, timeout: TimeInterval = 75, policy: ConsoleRetryPolicy = ConsoleRetryPolicy()) {
        self.init(baseURL: baseURL, manager: manager, timeout: timeout, policy: policy, transport: CurlTransport())
    }

    package init(baseURL: String, manager: SecretView, timeout: TimeInterval, policy: ConsoleRetryPolicy, transport: any HTTPTransport) {
        self.baseURL = baseURL
        self.host = URLComponents(string: baseURL)?.host ?? baseURL
        self.manager = manager
        self.timeoutMs = Int(timeout * 1000)
        self.transport = transport
        self.gate = RateLimitGate(policy: policy)
    }

    package static let keysPath = "/v3.0/iam/apiKeys"

    // MARK: Calls

    public func list(name: String?) throws(ConsoleFailure) -> ConsoleListing {
        var url = baseURL + Self.keysPath + "?orderBy=" + "createdDateTime%20desc" + "&top=200"
        var headers: [String] = []
        // Quote escaping inside a filter value is undocumented: a name with a quote is listed
        // unfiltered and matched here instead.
        if let name, !name.contains("'") { headers.append("TMV1-Filter: name eq '\(name)'") }
        var keys: [ConsoleKey] = []
        var skipped = 0
        var seenIDs = Set<String>(), seenLinks = Set<String>()
        let deadline = policy.now().addingTimeInterval(600)
        // Bounded: 10 minutes, 200,000 keys, and a link that repeats or a page with nothing new
        // ends it (a looping nextLink would otherwise hold the run lock for hours).
        while policy.now() < deadline, keys.count < 200_000 {
            let r = try call("list", method: "GET", url: url, headers: headers)
            guard r.status == 200, let page = ConsoleAnswers.listPage(json(r.body)) else { throw failure("list", r) }
            var fresh = 0
            for item in page.items {
                guard let o = item as? [String: Any], let key = ConsoleAnswers.key(o) else { skipped += 1; continue }
                if seenIDs.insert(key.id).inserted {
                    if name == nil || key.name == name { keys.append(key) }
                    fresh += 1
                }
            }
            if fresh == 0 && !page.items.isEmpty { throw ConsoleFailure(call: "list", host: host, code: "a page repeated earlier keys") }
            guard let next = page.next else { return ConsoleListing(keys: keys, skipped: skipped) }
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

    public func get(_ id: String) throws(ConsoleFailure) -> (key: ConsoleKey, etag: String) {
        let r = try call("get", method: "GET", url: keyURL(id))
        guard r.status == 200, let o = json(r.body) as? [String: Any], let key = ConsoleAnswers.key(o), key.id == id, let etag = r.etag else {
            throw failure("get", r)
        }
        return (key, etag)
    }

    public func update(_ id: String, etag: String, fields: [String: String]) throws(ConsoleFailure) -> Bool {
        let body = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
        // Sent unquoted, as Trend's SDK sends it for API keys; printable ASCII only (a header).
        let tag = etag.hasPrefix("\"") && etag.hasSuffix("\"") && etag.count >= 2 ? String(etag.dropFirst().dropLast()) : etag
        guard !tag.isEmpty, tag.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { throw ConsoleFailure(call: "update", host: host, code: "invalid ETag") }
        let r = try call("update", method: "PATCH", url: keyURL(id), headers: ["If-Match: \(tag)"], body: body)
        if r.status == 412 { return false }
        guard r.status == 204 || r.status == 200 else { throw failure("update", r) }
        return true
    }

    public func delete(_ ids: [String]) throws(ConsoleFailure) -> [String: Bool] {
        let body = try? JSONSerialization.data(withJSONObject: ids.map { ["id": $0] })
        let r = try call("delete", method: "POST", url: baseURL + Self.keysPath + "/delete", body: body)
        guard r.status == 207, let statuses = ConsoleAnswers.deleteStatuses(json(r.body), count: ids.count) else { throw failure("delete", r) }
        var out: [String: Bool] = [:]
        for (id, status) in zip(ids, statuses) { out[id] = status == 204 || status == 200 || status == 404 }
        return out
    }

    /// The response body is received into locked memory; `[0].body.value` is copied from there
    /// into secure memory and blanked before anything parses the rest.
    public func create(_ request: ConsoleCreateRequest) throws(ConsoleFailure) -> CreatedConsoleKey {
        var item: [String: Any] = ["name": request.name, "role": request.role, "monthsToExpiration": request.months]
        if let description = request.description { item["description"] = description }
        let body = try? JSONSerialization.data(withJSONObject: [item], options: [.sortedKeys])
        final class Box: @unchecked Sendable { var secret: SecureBytes? }
        let box = Box()
        var exchange = HTTPExchange(method: "POST", url: baseURL + Self.keysPath, body: body, timeoutMs: timeoutMs)
        exchange.secureBody = true
        var retried = false
        let r = try call("create", exchange: exchange, retryTransient: false, retried: &retried) { buffer in
            box.secret = JSONSecretExtractor.extract(buffer, path: JSONSecretExtractor.createValue)
            // Only a body whose value was taken out (and blanked) is parsed — or the answer of a
            // failed element (a 4xx or 5xx status at [0].status, read without parsing), which
            // made no key: its error code is read. Any other stays in the locked buffer, which
            // is zeroed: a 2xx answer without a value where it belongs may hold one elsewhere.
            if box.secret != nil { return Data(buffer) }
            if let status = JSONSecretExtractor.integer(buffer, path: JSONSecretExtractor.createStatus), status >= 400 { return Data(buffer) }
            return nil
        }
        guard r.status == 207, let element = ConsoleAnswers.createElement(json(r.body)) else {
            _ = box.secret.take()
            throw failure("create", r, code: r.status == 207 ? "an answer v1vault cannot read (not one element with body.id and body.value)" : nil)
        }
        var failed = ConsoleFailure(call: "create", host: host, status: element.status ?? r.status, code: element.errorCode, traceID: r.traceID)
        failed.retried = retried
        guard element.status == 201 || element.status == 200 else {
            _ = box.secret.take()
            throw failed
        }
        // The id is the body's; a Location header, when there is one, must name the same key.
        guard let id = element.id ?? element.locationID, ConsoleLink.isValidID(id), element.locationID.map({ $0 == id }) ?? true else {
            _ = box.secret.take()
            failed.code = "the answer names no usable key id (body.id and Location disagree or are missing)"
            throw failed
        }
        guard let value = box.secret.take() else {
            failed.code = "no key value at [0].body.value (or not exactly one)"
            throw failed
        }
        let expires = element.expires.flatMap(ConsoleAnswers.date)
        return CreatedConsoleKey(id: id, value: value, expires: expires, neverExpires: expires == nil)
    }

    public func connectivity(_ token: UnsafeRawBufferPointer) -> Result<Void, ConsoleFailure> {
        guard gate.pass() else { return .failure(ConsoleFailure(call: "connectivity", host: host, status: 429, code: "rate-limited too long")) }
        let request = HTTPExchange(method: "GET", url: baseURL + ConnectivityChecker.path, timeoutMs: min(timeoutMs, 30_000))
        switch transport.send(request, bearer: token, secure: nil) {
        case .failure(let f): return .failure(ConsoleFailure(call: "connectivity", host: host, network: f.message))
        case .success(let r):
            if r.status == 429 { gate.pause(r.retryAfter.map { min(TimeInterval(max($0, 0)), policy.maxRetryAfter) } ?? policy.rateLimitDelays.first ?? 5) }
            if ConnectivityChecker.isAvailable(status: r.status, body: r.body) { return .success(()) }
            return .failure(failure("connectivity", r))
        }
    }

    public func isManagerValue(_ value: UnsafeRawBufferPointer) -> Bool {
        manager.withUnsafeBytes { m in value.count == m.count && Sodium.constantTimeEqual(value, m) }
    }

    // MARK: Plumbing

    package func keyURL(_ id: String) -> String {
        baseURL + Self.keysPath + "/" + (id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? id)
    }

    package func call(_ name: String, method: String, url: String, headers: [String] = [], body: Data? = nil) throws(ConsoleFailure) -> HTTPExchange.Response {
        var retried = false
        return try call(name, exchange: HTTPExchange(method: method, url: url, headers: headers, body: body, timeoutMs: timeoutMs), retryTransient: true,
                        retried: &retried, secure: nil)
    }

    /// One request: after a 429, waits (Retry-After up to 60 s, else the policy's delays) and
    /// tries again while the delays last; with `retryTransient`, 5xx and network failures too.
    /// `retried` says whether an attempt was repeated (a later refusal then does not prove the
    /// earlier attempt did nothing).
    package func call(_ name: String, exchange: HTTPExchange, retryTransient: Bool, retried: inout Bool,
              secure: ((UnsafeMutableRawBufferPointer) -> Data?)?) throws(ConsoleFailure) -> HTTPExchange.Response {
        var rateLimits = 0, transients = 0
        while true {
            if gate.broken {
                var f = ConsoleFailure(call: name, host: host, code: "not called: \(policy.breakerLimit) requests in a row failed in this run; the next run retries")
                f.retried = retried
                throw f
            }
            guard gate.pass() else {
                var f = ConsoleFailure(call: name, host: host, status: 429, code: "rate-limited: waited \(Int(policy.rateLimitBudget)) s in this run; the next run retries")
                f.retried = retried
                throw f
            }
            let sent = manager.withUnsafeBytes { transport.send(exchange, bearer: $0, secure: secure) }
            var last: ConsoleFailure
            switch sent {
            case .success(let r) where r.status == 429:
                last = failure(name, r)
                if rateLimits < policy.rateLimitDelays.count {
                    let delay = r.retryAfter.map { min(TimeInterval(max($0, 0)), policy.maxRetryAfter) } ?? policy.rateLimitDelays[rateLimits]
                    rateLimits += 1
                    retried = true
                    gate.pause(delay)
                    continue
                }
            case .success(let r) where retryTransient && (500...599).contains(r.status):
                last = failure(name, r)
                if transients < policy.transientDelays.count {
                    policy.sleep(policy.transientDelays[transients]); transients += 1; retried = true
                    continue
                }
            case .success(let r):
                gate.record(failed: false)
                return r
            case .failure(let f):
                last = ConsoleFailure(call: name, host: host, network: f.message)
                if retryTransient && transients < policy.transientDelays.count {
                    policy.sleep(policy.transientDelays[transients]); transients += 1; retried = true
                    continue
                }
            }
            last.retried = retried
            gate.record(failed: true)
            throw last
        }
    }

    /// A create's secure-body handler goes through the same loop.
    package func call(_ name: String, exchange: HTTPExchange, retryTransient: Bool, retried: inout Bool,
              _ secure: @escaping (UnsafeMutableRawBufferPointer) -> Data?) throws(ConsoleFailure) -> HTTPExchange.Response {
        try call(name, exchange: exchange, retryTransient: retryTransient, retried: &retried, secure: Optional(secure))
    }

    package func json(_ data: Data?) -> Any? { data.flatMap { try? JSONSerialization.jsonObject(with: $0, options: [.fragmentsAllowed]) } }

    package func failure(_ call: String, _ r: HTTPExchange.Response, code: String? = nil) -> ConsoleFailure {
        ConsoleFailure(call: call, host: host, status: r.status, code: code ?? ConsoleAnswers.errorCode(json(r.body)), traceID: r.traceID)
    }
}
