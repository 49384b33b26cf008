import CHTTP
import Foundation

/// One HTTP exchange through libcurl (CHTTP): any method, a bearer token from secure memory,
/// extra headers, a JSON body. Redirects are never followed; loopback bypasses proxies.
struct HTTPExchange {
    var method: String
    var url: String
    var headers: [String] = []
    var body: Data?
    var timeoutMs: Int
    /// Receive the body into locked, non-dumpable memory that is zeroed when freed.
    var secureBody = false

    /// What came back. `body` is the response body as plain heap data; a secure body is never
    /// copied into it (see `send(bearer:secure:)`).
    struct Response {
        var status: Int
        var traceID: String?
        var etag: String?
        var retryAfter: Int?
        var location: String?
        var body: Data?
    }

    struct NetworkFailure: Error {
        var curlCode: Int32
        var message: String
    }

    /// Sends the request. With `secureBody`, `secure` receives the body buffer (mutable, so it
    /// can take the secret out and blank it) before it is zeroed and unmapped, and the
    /// response's `body` is whatever `secure` returns.
    func send(bearer: UnsafeRawBufferPointer,
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

/// Takes one string member out of a JSON text in place: the value of the one member `key` found
/// at object depth `depth` (1 = the top-level object, 2 = an object inside it, …; arrays do not
/// count). The value's bytes are copied into secure memory, then overwritten with `x` in the
/// buffer, so the rest of the document can go through a JSON parser without the secret. Only
/// plain strings are accepted (a backslash escape inside the value returns nil: a Vision One key
/// is base64url and dots).
enum JSONSecretExtractor {
    static func extract(_ buffer: UnsafeMutableRawBufferPointer, key: String, depth wanted: Int) -> SecureBytes? {
        let b = buffer.bindMemory(to: UInt8.self)
        let keyBytes = Array(key.utf8)
        var i = 0, depth = 0
        // For each open container: is it an object, and is the next string in it a key?
        var stack: [(object: Bool, expectKey: Bool)] = []
        var found: Range<Int>?
        func skipString(_ start: Int) -> Int? {    // returns the index of the closing quote
            var j = start + 1
            while j < b.count {
                if b[j] == UInt8(ascii: "\\") { j += 2; continue }
                if b[j] == UInt8(ascii: "\"") { return j }
                j += 1
            }
            return nil
        }
        // One pass over the whole document: the member must occur exactly once at that depth
        // (JSON parsers disagree on which of two wins), so a second one refuses the answer.
        while i < b.count {
            switch b[i] {
            case UInt8(ascii: "{"): stack.append((true, true)); depth += 1; i += 1
            case UInt8(ascii: "["): stack.append((false, false)); i += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if let top = stack.popLast(), top.object { depth -= 1 }
                i += 1
            case UInt8(ascii: ","):
                if let top = stack.last, top.object { stack[stack.count - 1].expectKey = true }
                i += 1
            case UInt8(ascii: ":"):
                if let top = stack.last, top.object { stack[stack.count - 1].expectKey = false }
                i += 1
            case UInt8(ascii: "\""):
                guard let end = skipString(i) else { return nil }
                let isKey = stack.last.map { $0.object && $0.expectKey } ?? false
                guard isKey, depth == wanted, end - i - 1 == keyBytes.count, Array(b[(i + 1)..<end]) == keyBytes else {
                    i = end + 1
                    continue
                }
                guard found == nil else { return nil }
                // The value: whitespace, ':', whitespace, then a plain (escape-free) string.
                var j = end + 1
                while j < b.count, b[j] == 0x20 || b[j] == 0x0a || b[j] == 0x0d || b[j] == 0x09 || b[j] == UInt8(ascii: ":") { j += 1 }
                guard j < b.count, b[j] == UInt8(ascii: "\""), let close = skipString(j) else { return nil }
                let range = (j + 1)..<close
                guard !range.isEmpty, !b[range].contains(UInt8(ascii: "\\")) else { return nil }
                found = range
                if let top = stack.last, top.object { stack[stack.count - 1].expectKey = false }
                i = close + 1
            default: i += 1
            }
        }
        guard let range = found else { return nil }
        let secret = SecureBytes(copying: UnsafeRawBufferPointer(rebasing: buffer[range]))
        for k in range { b[k] = UInt8(ascii: "x") }
        return secret
    }
}
