import Foundation

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

    /// A base URL: `https://host[:port][/path]`, no credentials, query or fragment. Loopback
    /// hosts may use http (local test servers).
    public static func baseURL(_ text: String) throws(VaultError) -> String {
        let hint = "use e.g. https://api.xdr.trendmicro.com"
        guard text.utf8.count <= 2048, text.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f }),
              let comps = URLComponents(string: text), let scheme = comps.scheme?.lowercased(),
              let host = comps.host, !host.isEmpty else {
            throw .invalidInput(reason: "invalid base URL \(displayName(text))", hint: hint)
        }
        guard comps.user == nil, comps.password == nil, comps.query == nil, comps.fragment == nil else {
            throw .invalidInput(reason: "base URL must not contain credentials, a query or a fragment", hint: hint)
        }
        let loopback = isLoopback(host)
        guard scheme == "https" || (scheme == "http" && loopback) else {
            throw .invalidInput(reason: "base URL \(displayName(text)) is not https", hint: hint)
        }
        var t = text
        while t.hasSuffix("/") { t.removeLast() }
        return t
    }

    public static func isLoopback(_ host: String) -> Bool {
        let h = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if h == "localhost" || h == "::1" { return true }
        let parts = h.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
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
