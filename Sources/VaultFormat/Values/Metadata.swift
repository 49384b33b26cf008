import Foundation

/// Metadata stored with a token (not encrypted; see SECURITY.md).
public struct TokenMetadata: Sendable, Equatable {
    public var region: Region?
    public var baseURL: String
    public var role: String?
    public var description: String?
    public var permissions: [String]

    public init(region: Region? = .us, baseURL: String? = nil, role: String? = nil, description: String? = nil, permissions: [String] = []) {
        self.region = baseURL == nil ? (region ?? .us) : region
        self.baseURL = baseURL ?? (region ?? .us).baseURL
        self.role = role
        self.description = description
        self.permissions = permissions
    }
}

/// Vision One regions and their API base URLs.
public enum Region: String, CaseIterable, Codable, Sendable {
    case us, au, eu, `in`, jp, sg, mea, uk, usgov, ca, za

    public var baseURL: String {
        switch self {
        case .us: return "https://api.xdr.trendmicro.com"
        case .jp: return "https://api.xdr.trendmicro.co.jp"
        default: return "https://api.\(rawValue).xdr.trendmicro.com"
        }
    }

    public static func parse(_ text: String) throws(VaultError) -> Region {
        guard let r = Region(rawValue: text.lowercased()) else {
            throw .invalidInput(reason: "unknown region \(displayName(text))",
                                hint: "one of: " + allCases.map(\.rawValue).joined(separator: " ") + ", or --base-url https://…")
        }
        return r
    }
}

/// Validation of user-supplied names and metadata.
public enum Validate {
    /// Token names: `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`.
    public static func tokenName(_ name: String) throws(VaultError) {
        let b = Array(name.utf8)
        func isAlnum(_ c: UInt8) -> Bool { (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) }
        guard !b.isEmpty else { throw .invalidName(name, reason: "empty") }
        guard b.count <= 64 else { throw .invalidName(name, reason: "longer than 64 characters") }
        guard isAlnum(b[0]) else { throw .invalidName(name, reason: "must start with a letter or digit") }
        for c in b.dropFirst() where !(isAlnum(c) || c == 46 || c == 95 || c == 45) {
            throw .invalidName(name, reason: "only letters, digits, '.', '_' and '-' are allowed")
        }
    }

    /// Recipient names follow the token-name rule.
    public static func recipientName(_ name: String) throws(VaultError) { try tokenName(name) }

    /// Whether `name` is a valid token name (see `tokenName`).
    public static func isTokenName(_ name: String) -> Bool { (try? tokenName(name)) != nil }

    /// A base URL: `https://host[:port][/path]` — scheme `https` (or `http` for a loopback host),
    /// a host of letters, digits, `.` and `-` (or `[::1]`), an optional port 1–65535, and a path
    /// of `[A-Za-z0-9._~-]` segments. No credentials, query, fragment or empty segments. Returns
    /// the canonical form: lower-case scheme and host, no trailing slash.
    public static func baseURL(_ text: String) throws(VaultError) -> String {
        let hint = "use e.g. https://api.xdr.trendmicro.com"
        func invalid(_ why: String? = nil) -> VaultError {
            .invalidInput(reason: why ?? "invalid base URL \(displayName(text))", hint: hint)
        }
        let b = Array(text.utf8)
        guard b.count <= 2048, b.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { throw invalid() }
        if b.contains(UInt8(ascii: "@")) || b.contains(UInt8(ascii: "?")) || b.contains(UInt8(ascii: "#")) {
            throw invalid("base URL must not contain credentials, a query or a fragment")
        }
        guard let sep = text.range(of: "://") else { throw invalid() }
        let scheme = text[..<sep.lowerBound].lowercased()
        var rest = Substring(text[sep.upperBound...])
        let authority = rest.prefix { $0 != "/" }
        rest = rest.dropFirst(authority.count)
        var host = Substring(authority), port: Int?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw invalid() }
            host = authority[...close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let p = Int(after.dropFirst()), (1...65535).contains(p) else { throw invalid() }
                port = p
            }
            guard host.lowercased() == "[::1]" else { throw invalid() }
        } else {
            if let colon = authority.firstIndex(of: ":") {
                host = authority[..<colon]
                let digits = authority[authority.index(after: colon)...]
                guard !digits.isEmpty, digits.count <= 5, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber),
                      let p = Int(digits), (1...65535).contains(p) else { throw invalid() }
                port = p
            }
            let labels = host.split(separator: ".", omittingEmptySubsequences: false)
            guard !host.isEmpty, host.count <= 253, labels.allSatisfy({ l in
                !l.isEmpty && l.count <= 63 && l.first != "-" && l.last != "-"
                    && l.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 }
            }) else { throw invalid() }
        }
        var path = rest
        while path.hasSuffix("/") { path.removeLast() }
        if !path.isEmpty {
            let segments = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
            guard segments.allSatisfy({ seg in
                !seg.isEmpty && seg != "." && seg != ".."
                    && seg.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || "._~-".utf8.contains($0) }
            }) else { throw invalid() }
        }
        let loopback = isLoopback(String(host))
        guard scheme == "https" || (scheme == "http" && loopback) else {
            throw invalid("base URL \(displayName(text)) is not https")
        }
        return scheme + "://" + host.lowercased() + (port.map { ":\($0)" } ?? "") + path
    }

    /// Only canonical loopback literals: `127.x.y.z` in plain dotted decimal (no leading zeros,
    /// which some resolvers read as octal and others pass to DNS: `127.0.0.08`) and `[::1]`.
    /// Not `localhost`, which is a name resolved through NSS and possibly DNS.
    public static func isLoopback(_ host: String) -> Bool {
        if host == "[::1]" || host == "::1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { p in UInt8(p).map { String($0) == p } ?? false }
    }

    /// Free-text metadata (role, description, permission): printable, single line, bounded.
    public static func text(_ value: String, field: String, max: Int = 256) throws(VaultError) -> String {
        guard value.unicodeScalars.count <= max else {
            throw .invalidInput(reason: "\(field) is longer than \(max) characters", hint: nil)
        }
        guard !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0.properties.generalCategory == .format && $0.value >= 0x202A && $0.value <= 0x2069 }) else {
            throw .invalidInput(reason: "\(field) contains control characters", hint: nil)
        }
        return value
    }
}
