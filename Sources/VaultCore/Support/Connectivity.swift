import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// What `vault check` found for one token.
public struct CheckResult: Codable, Sendable, Equatable {
    public enum Outcome: String, Codable, Sendable {
        case ok
        case invalidCredentials = "invalid credentials"
        case accessDenied = "access denied"
        case rateLimited = "rate-limited"
        case serverError = "server error"
        case networkError = "network error"
        case unexpected = "unexpected response"
    }

    public var name: String
    public var version: Int
    public var baseURL: String
    public var outcome: Outcome
    public var httpStatus: Int?
    /// Vision One's `error.code`, e.g. `InvalidCredentials`.
    public var errorCode: String?
    /// Vision One's `error.message`, or what went wrong on the network (never the token).
    public var message: String?
    /// The `x-trace-id` response header, for Trend support.
    public var traceID: String?

    /// The token was refused by Vision One (as opposed to the check not completing).
    public var rejected: Bool { outcome == .invalidCredentials || outcome == .accessDenied }

    enum CodingKeys: String, CodingKey {
        case name, version, outcome, message
        case baseURL = "base_url", httpStatus = "http_status", errorCode = "error_code", traceID = "trace_id"
    }
}

/// Calls `GET {base URL}/v3.0/healthcheck/connectivity` with `Authorization: Bearer <token>`.
///
/// URLSession (FoundationNetworking) ships with the toolchain, so it adds nothing to the build.
/// The session is ephemeral (no cookies, cache or credential storage), redirects are never
/// followed (so the header cannot travel to another host), there are no retries, and every
/// request is bounded by `timeout`. At most `concurrency` requests run at once.
public final class ConnectivityChecker: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
    public static let path = "/v3.0/healthcheck/connectivity"
    let timeout: TimeInterval
    let concurrency: Int

    public init(timeout: TimeInterval = 10, concurrency: Int = 4) {
        self.timeout = timeout
        self.concurrency = concurrency
    }

    /// Refuse every redirect: the response is reported as is.
    public func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                           newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
        completionHandler(nil)
    }

    /// One request. `baseURL` must be https, or http on loopback (checked again here).
    public struct Request {
        public var name: String
        public var version: Int
        public var baseURL: String
        /// The revealed token; only its bytes go into the Authorization header.
        public var token: RevealedToken
        public init(name: String, version: Int, baseURL: String, token: RevealedToken) {
            self.name = name; self.version = version; self.baseURL = baseURL; self.token = token
        }
    }

    /// Runs the checks (blocking), results in request order.
    public func check(_ requests: [Request]) -> [CheckResult] {
        let config = URLSessionConfiguration.ephemeral
        config.timeoutIntervalForRequest = timeout
        config.timeoutIntervalForResource = timeout
        config.httpShouldSetCookies = false
        config.httpCookieAcceptPolicy = .never
        config.urlCache = nil
        config.urlCredentialStorage = nil
        config.requestCachePolicy = .reloadIgnoringLocalCacheData
        config.httpMaximumConnectionsPerHost = concurrency
        let session = URLSession(configuration: config, delegate: self, delegateQueue: nil)
        defer { session.invalidateAndCancel() }

        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var items: [CheckResult?]
            init(_ n: Int) { items = Array(repeating: nil, count: n) }
            func set(_ i: Int, _ r: CheckResult) { lock.withLock { items[i] = r } }
        }
        let results = Results(requests.count)
        let slots = DispatchSemaphore(value: concurrency)
        let group = DispatchGroup()
        for (i, req) in requests.enumerated() {
            var base = CheckResult(name: req.name, version: req.version, baseURL: req.baseURL, outcome: .networkError)
            guard let url = Self.endpoint(req.baseURL) else {
                base.outcome = .unexpected
                base.message = "base URL is not https (only loopback may use http)"
                results.set(i, base)
                continue
            }
            var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
            request.httpMethod = "GET"
            request.setValue("application/json", forHTTPHeaderField: "Accept")
            request.setValue("v1vault", forHTTPHeaderField: "User-Agent")
            // URLRequest only takes a String: the token is copied into it for this request.
            let bearer = "Bearer " + req.token.secret.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
            request.setValue(bearer, forHTTPHeaderField: "Authorization")
            slots.wait()
            group.enter()
            let pending = base
            let task = session.dataTask(with: request) { data, response, error in
                results.set(i, Self.classify(pending, data: data, response: response, error: error))
                slots.signal()
                group.leave()
            }
            task.resume()
        }
        group.wait()
        return results.items.map { $0! }
    }

    static func endpoint(_ baseURL: String) -> URL? {
        guard let valid = try? Validate.baseURL(baseURL) else { return nil }
        return URL(string: valid + path)
    }

    static func classify(_ base: CheckResult, data: Data?, response: URLResponse?, error: (any Error)?) -> CheckResult {
        var r = base
        if let error {
            r.outcome = .networkError
            r.message = describe(error)
            return r
        }
        guard let http = response as? HTTPURLResponse else {
            r.outcome = .networkError
            r.message = "no HTTP response"
            return r
        }
        r.httpStatus = http.statusCode
        r.traceID = (http.value(forHTTPHeaderField: "x-trace-id")).map { sanitize($0, max: 128) }
        let body = data.flatMap { try? JSONSerialization.jsonObject(with: $0) } as? [String: Any]
        if let err = body?["error"] as? [String: Any] {
            r.errorCode = (err["code"] as? String).map { sanitize($0, max: 64) }
            r.message = (err["message"] as? String).map { sanitize($0, max: 200) }
        }
        switch http.statusCode {
        case 200:
            if body?["status"] as? String == "available" { r.outcome = .ok } else {
                r.outcome = .unexpected
                r.message = "200 without {\"status\": \"available\"}"
            }
        case 401: r.outcome = .invalidCredentials
        case 403: r.outcome = .accessDenied
        case 429: r.outcome = .rateLimited
        case 500...599: r.outcome = .serverError
        case 300...399:
            r.outcome = .unexpected
            r.message = "redirect to \(sanitize(http.value(forHTTPHeaderField: "Location") ?? "?", max: 200)) not followed"
        default: r.outcome = .unexpected
        }
        return r
    }

    static func describe(_ error: any Error) -> String {
        guard let e = error as? URLError else { return "request failed" }
        switch e.code {
        case .timedOut: return "timeout"
        case .cannotFindHost, .dnsLookupFailed: return "DNS: cannot resolve the host"
        case .cannotConnectToHost: return "connection refused"
        case .networkConnectionLost: return "connection lost"
        case .notConnectedToInternet: return "no network"
        case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate,
             .serverCertificateNotYetValid, .serverCertificateHasUnknownRoot, .clientCertificateRejected:
            return "TLS: \(e.code == .secureConnectionFailed ? "handshake failed" : "certificate rejected")"
        default: return "network error \(e.code.rawValue)"
        }
    }

    /// Server-supplied text for display: printable, bounded.
    static func sanitize(_ s: String, max: Int) -> String {
        String(s.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7f }.prefix(max).map(Character.init))
    }
}
