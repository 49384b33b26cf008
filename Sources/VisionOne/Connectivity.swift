import CHTTP
import Foundation
import VaultFormat

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

    package enum CodingKeys: String, CodingKey {
        case name, version, outcome, message
        case baseURL = "base_url", httpStatus = "http_status", errorCode = "error_code", traceID = "trace_id"
    }
}

/// Calls `GET {base URL}/v3.0/healthcheck/connectivity` with `Authorization: Bearer <token>`.
///
/// The client is libcurl, opened with dlopen on the first request (CHTTP): FoundationNetworking
/// would have linked libcurl and ~26 dependent libraries into every command, about 19 ms of
/// start-up each (docs/PERFORMANCE.md). The token goes from secure memory into a C header buffer
/// that is zeroed after use. Redirects are never followed (so the header cannot travel to
/// another host), only http/https are allowed, there are no retries, and `timeout` bounds each
/// request. At most `concurrency` requests run at once.
public final class ConnectivityChecker: @unchecked Sendable {
    public static let path = "/v3.0/healthcheck/connectivity"
    package let timeout: TimeInterval
    package let concurrency: Int

    public init(timeout: TimeInterval = 10, concurrency: Int = 4) {
        self.timeout = timeout
        self.concurrency = concurrency
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
        let timeoutMs = Int(timeout * 1000)
        return Parallel.map(requests, width: concurrency) { Self.run($0, timeoutMs: timeoutMs) }
    }

    package static func run(_ req: Request, timeoutMs: Int) -> CheckResult {
        var r = CheckResult(name: req.name, version: req.version, baseURL: req.baseURL, outcome: .networkError)
        guard let url = endpoint(req.baseURL) else {
            r.outcome = .unexpected
            r.message = "base URL is not https (only loopback may use http)"
            return r
        }
        let exchange = HTTPExchange(method: "GET", url: url.absoluteString, timeoutMs: timeoutMs)
        switch req.token.secret.withUnsafeBytes({ exchange.send(bearer: $0) }) {
        case .failure(let f):
            r.outcome = .networkError
            r.message = f.message
            return r
        case .success(let response):
            return classify(r, status: response.status, body: response.body, traceID: response.traceID ?? "", location: response.location ?? "")
        }
    }

    /// The connectivity endpoint's "this token works": 200 with `{"status": "available"}`.
    package static func isAvailable(status: Int, body: Data?) -> Bool {
        status == 200 && (body.flatMap { try? JSONSerialization.jsonObject(with: $0) } as? [String: Any])?["status"] as? String == "available"
    }

    package static func cString<T>(_ tuple: inout T) -> String {
        withUnsafeBytes(of: &tuple) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    package static func endpoint(_ baseURL: String) -> URL? {
        guard let valid = try? Validate.baseURL(baseURL) else { return nil }
        return URL(string: valid + path)
    }

    package static func classify(_ base: CheckResult, status: Int, body data: Data?, traceID: String, location: String) -> CheckResult {
        var r = base
        r.httpStatus = status
        r.traceID = traceID.isEmpty ? nil : sanitize(traceID, max: 128)
        let body = data.flatMap { try? JSONSerialization.jsonObject(with: $0) } as? [String: Any]
        if let err = body?["error"] as? [String: Any] {
            r.errorCode = (err["code"] as? String).map { sanitize($0, max: 64) }
            r.message = (err["message"] as? String).map { sanitize($0, max: 200) }
        }
        switch status {
        case 200:
            if isAvailable(status: status, body: data) { r.outcome = .ok } else {
                r.outcome = .unexpected
                r.message = "200 without {\"status\": \"available\"}"
            }
        case 401: r.outcome = .invalidCredentials
        case 403: r.outcome = .accessDenied
        case 429: r.outcome = .rateLimited
        case 500...599: r.outcome = .serverError
        case 300...399:
            r.outcome = .unexpected
            r.message = "redirect to \(sanitize(location.isEmpty ? "?" : location, max: 200)) not followed"
        default: r.outcome = .unexpected
        }
        return r
    }

    /// libcurl error codes in words (never the token: libcurl's messages name hosts, not headers).
    package static func describe(curlCode: Int32, detail: String) -> String {
        switch curlCode {
        case -1: return detail.isEmpty ? "libcurl is not available" : detail
        case 28: return "timeout"
        case 6: return "DNS: cannot resolve the host"
        case 7: return "connection refused"
        case 35: return "TLS: handshake failed"
        case 51, 53, 54, 58, 59, 60, 64, 66, 77, 80, 82, 83, 90, 91: return "TLS: certificate rejected"
        case 52: return "empty reply"
        case 55, 56: return "connection lost"
        default: return "network error \(curlCode)"
        }
    }

    /// Server-supplied text for display: no control, separator or bidi scalar, bounded.
    package static func sanitize(_ s: String, max: Int) -> String { Sanitize.serverText(s, max: max) }
}
