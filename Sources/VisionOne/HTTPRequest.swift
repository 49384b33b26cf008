import CHTTP
import Foundation
import VaultFormat

/// One HTTP exchange through libcurl (CHTTP): any method, a bearer token from secure memory,
/// extra headers, a JSON body. Redirects are never followed; loopback bypasses proxies.
package struct HTTPExchange {
    package var method: String
    package var url: String
    package var headers: [String] = []
    package var body: Data?
    package var timeoutMs: Int
    /// Receive the body into locked, non-dumpable memory that is zeroed when freed.
    package var secureBody = false

    /// What came back. `body` is the response body as plain heap data; a secure body is never
    /// copied into it (see `send(bearer:secure:)`).
    package struct Response {
        package var status: Int
        package var traceID: String?
        package var etag: String?
        package var retryAfter: Int?
        package var location: String?
        package var body: Data?
    }

    package struct NetworkFailure: Error {
        package var curlCode: Int32
        package var message: String
    }

    /// Sends the request. With `secureBody`, `secure` receives the body buffer (mutable, so it
    /// can take the secret out and blank it) before it is zeroed and unmapped, and the
    /// response's `body` is whatever `secure` returns.
    package func send(bearer: UnsafeRawBufferPointer,
              secure: ((UnsafeMutableRawBufferPointer) -> Data?)? = nil) -> Result<Response, NetworkFailure> {
        var result = v1v_http_result()
        let direct = URL(string: url)?.host.map(Validate.isLoopback) ?? false
        let cHeaders = headers.map { strdup($0) }
        defer { cHeaders.forEach { free($0) } }
        let bodyBytes = body.map { Array($0) }
        method.withCString { m in
            url.withCString { u in
                cHeaders.map { UnsafePointer($0) }.withUnsafeBufferPointer { hp in
                    withOptionalBytes(bodyBytes) { b in
                        var req = v1v_http_request_t()
                        req.method = m
                        req.url = u
                        req.token = bearer.baseAddress?.assumingMemoryBound(to: UInt8.self)
                        req.token_len = bearer.count
                        req.headers = hp.baseAddress
                        req.header_count = hp.count
                        req.body = b?.baseAddress?.assumingMemoryBound(to: CChar.self)
                        req.body_len = b?.count ?? 0
                        req.timeout_ms = timeoutMs
                        req.direct = direct ? 1 : 0
                        req.secure_body = secureBody ? 1 : 0
                        _ = v1v_http_request(&req, &result)
                    }
                }
            }
        }
        defer { v1v_http_free(&result) }
        if result.curl_code != 0 {
            return .failure(NetworkFailure(curlCode: result.curl_code,
                                           message: ConnectivityChecker.describe(curlCode: result.curl_code, detail: ConnectivityChecker.cString(&result.error))))
        }
        var data: Data?
        if let p = result.body {
            let raw = UnsafeMutableRawBufferPointer(start: p, count: result.body_len)
            if secureBody { data = secure?(raw) } else { data = Data(raw) }
        }
        func header(_ s: String) -> String? { s.isEmpty ? nil : s }
        return .success(Response(status: result.status, traceID: header(ConnectivityChecker.cString(&result.trace_id)).map { Sanitize.serverText($0, max: 128) },
                                 etag: header(ConnectivityChecker.cString(&result.etag)),
                                 retryAfter: Int(ConnectivityChecker.cString(&result.retry_after).trimmingCharacters(in: .whitespaces)),
                                 location: header(ConnectivityChecker.cString(&result.location)), body: data))
    }

    private func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
        guard let bytes else { return body(nil) }
        return bytes.withUnsafeBytes { body($0) }
    }
}
