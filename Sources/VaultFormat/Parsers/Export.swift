import Foundation

/// Output formats of `vault export`.
public enum ExportFormat: String, CaseIterable, Sendable {
    /// `export NAME='value'` with POSIX single-quote escaping, safe for `eval`.
    case env
    /// Unquoted `NAME=value`, read identically by docker --env-file, compose, systemd and python-dotenv.
    case dotenv
    /// A JSON object of name → value.
    case json
    /// GitHub Actions: `::add-mask::` on stdout, variables appended to $GITHUB_ENV.
    case github
    /// The token bytes alone.
    case raw
}

/// Which variable names a token is exported under.
public enum NameSet: String, CaseIterable, Sendable {
    /// Trend's API cookbook: TMV1_TOKEN, TMV1_URL.
    case cookbook
    /// The Vision One Terraform provider: VISIONONE_API_KEY, VISIONONE_REGIONAL_FQDN.
    case terraform
    /// Trend's MCP server: TREND_VISION_ONE_API_KEY.
    case mcp

    package var tokenVariable: String {
        switch self {
        case .cookbook: return "TMV1_TOKEN"
        case .terraform: return "VISIONONE_API_KEY"
        case .mcp: return "TREND_VISION_ONE_API_KEY"
        }
    }

    package var urlVariable: String? {
        switch self {
        case .cookbook: return "TMV1_URL"
        case .terraform: return "VISIONONE_REGIONAL_FQDN"
        case .mcp: return nil
        }
    }
}

/// How tokens map to variable names.
public struct ExportNaming: Sendable {
    public var set: NameSet
    public var tokenVariable: String?
    public var urlVariable: String?
    /// Prefix each variable with the token's name (upper-cased, `.`/`-` → `_`), for several tokens.
    public var prefixWithName: Bool

    public init(set: NameSet = .cookbook, tokenVariable: String? = nil, urlVariable: String? = nil, prefixWithName: Bool = false) {
        self.set = set; self.tokenVariable = tokenVariable; self.urlVariable = urlVariable; self.prefixWithName = prefixWithName
    }

    /// Throws unless `name` matches `^[A-Za-z_][A-Za-z0-9_]*$` (and is at most 128 bytes).
    public static func validateVariable(_ name: String) throws(VaultError) {
        let b = Array(name.utf8)
        func ok(_ c: UInt8, first: Bool) -> Bool {
            c == 95 || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (!first && c >= 48 && c <= 57)
        }
        guard !b.isEmpty, b.count <= 128, ok(b[0], first: true), b.dropFirst().allSatisfy({ ok($0, first: false) }) else {
            throw .invalidInput(reason: "invalid variable name \(displayName(name))", hint: "variable names match ^[A-Za-z_][A-Za-z0-9_]*$")
        }
    }

    /// The (token, url?) variable names for the token called `tokenName`.
    public func variables(for tokenName: String) throws(VaultError) -> (token: String, url: String?) {
        var token = tokenVariable ?? set.tokenVariable
        var url = urlVariable ?? set.urlVariable
        if prefixWithName {
            var p = String(tokenName.uppercased().map { $0 == "." || $0 == "-" ? "_" : $0 })
            if p.first?.isNumber == true { p = "_" + p }
            token = p + "_" + token
            url = url.map { p + "_" + $0 }
        }
        try Self.validateVariable(token)
        if let url { try Self.validateVariable(url) }
        return (token, url)
    }
}

/// One variable to export: a secret token or a plain URL.
public struct ExportVariable {
    public let name: String
    public let token: RevealedToken
    public let isSecret: Bool
}

/// Renders revealed tokens in each export format, entirely in secure memory.
public enum Exporter {
    /// The variables for these tokens; throws on a name collision (never overwrites).
    public static func variables(_ tokens: [RevealedToken], naming: ExportNaming) throws(VaultError) -> [ExportVariable] {
        var out: [ExportVariable] = []
        var seen: [String: String] = [:]
        for t in tokens {
            let (tv, uv) = try naming.variables(for: t.name)
            for (name, secret) in [(tv, true), (uv, false)] {
                guard let name else { continue }
                if let other = seen[name] {
                    throw .invalidInput(reason: "variable \(name) would be set by both \(other) and \(t.name)",
                                        hint: "add --prefix to prefix each variable with its token's name")
                }
                seen[name] = t.name
                out.append(ExportVariable(name: name, token: t, isSecret: secret))
            }
        }
        return out
    }

    /// Appends the variable's value (the token from secure memory, or the base URL).
    package static func appendValue(_ v: ExportVariable, to out: inout SecureBytes, escape: (UInt8) -> [UInt8]? = { _ in nil }) {
        func put(_ b: UInt8) { if let e = escape(b) { for x in e { out.append(x) } } else { out.append(b) } }
        if v.isSecret {
            for i in 0..<v.token.secret.count { put(v.token.secret[i]) }
        } else {
            for b in v.token.baseURL.utf8 { put(b) }
        }
    }

    package static func capacity(_ vars: [ExportVariable], factor: Int, overhead: Int) -> Int {
        vars.reduce(0) { $0 + $1.name.utf8.count + factor * max($1.token.secret.count, $1.token.baseURL.utf8.count) + overhead }
    }

    /// `export NAME='value'` lines; `'` becomes `'\''`.
    public static func env(_ vars: [ExportVariable]) -> SecureBytes {
        var out = SecureBytes(capacity: capacity(vars, factor: 4, overhead: 16), empty: true)
        for v in vars {
            out.append("export \(v.name)='")
            appendValue(v, to: &out) { $0 == 0x27 ? Array("'\\''".utf8) : nil }
            out.append("'\n")
        }
        return out
    }

    /// Characters a dotenv reader may interpolate, unquote or cut at: refused, never guessed.
    package static let dotenvUnsafe: Set<UInt8> = Set("$'\"#\\`".utf8)

    /// `NAME=value` lines; throws if a value contains a character some dotenv reader would
    /// treat specially (`$ ' " # \` and backquote).
    public static func dotenv(_ vars: [ExportVariable]) throws(VaultError) -> SecureBytes {
        for v in vars {
            var bad: UInt8?
            if v.isSecret {
                for i in 0..<v.token.secret.count where dotenvUnsafe.contains(v.token.secret[i]) { bad = v.token.secret[i]; break }
            } else {
                bad = v.token.baseURL.utf8.first { dotenvUnsafe.contains($0) || $0 <= 0x20 }
            }
            if let bad {
                throw .invalidInput(reason: "\(v.isSecret ? "token" : "URL") \(v.token.name) contains \(Character(UnicodeScalar(bad))), which dotenv readers interpret differently; it cannot be written as dotenv safely",
                                    hint: "use --format env or --format json")
            }
        }
        var out = SecureBytes(capacity: capacity(vars, factor: 1, overhead: 2), empty: true)
        for v in vars {
            out.append("\(v.name)=")
            appendValue(v, to: &out)
            out.append("\n")
        }
        return out
    }

    /// A JSON object of name → value; with `meta`, a `_meta` object of token name → the
    /// variable holding its token (`token_var`), version, expiry, region, base URL, role,
    /// description and permissions, plus — only when set, so that a file without them still
    /// reads as before — the exported version's console link (`console_id`, `console_name`,
    /// `console_state`) and `"manager": true` for a base URL's manager key: everything
    /// `vault import --format json` needs to recreate the tokens as they were.
    public static func json(_ vars: [ExportVariable], meta: Bool) -> SecureBytes {
        let metaText: String? = meta ? {
            var seen = Set<String>()
            let entries = vars.compactMap { v -> String? in
                guard v.isSecret, seen.insert(v.token.name).inserted else { return nil }
                let t = v.token
                func text(_ s: String?) -> String { s.map(JSONText.string) ?? "null" }
                var link = ""
                if let id = t.consoleID { link += ", \"console_id\": \(JSONText.string(id))" }
                if let name = t.consoleName { link += ", \"console_name\": \(JSONText.string(name))" }
                if let state = t.consoleState { link += ", \"console_state\": \(JSONText.string(state))" }
                if t.manager { link += ", \"manager\": true" }
                return "    \(JSONText.string(t.name)): {\"token_var\": \(JSONText.string(v.name)), \"version\": \(t.version), "
                    + "\"expires\": \(text(t.expires.map(Timestamp.iso))), \"region\": \(text(t.region?.rawValue)), "
                    + "\"base_url\": \(JSONText.string(t.baseURL)), \"role\": \(text(t.role)), \"description\": \(text(t.description)), "
                    + "\"permissions\": \(JSONText.array(t.permissions))\(link)}"
            }
            return "  \"_meta\": {\n" + entries.joined(separator: ",\n") + "\n  }"
        }() : nil
        var out = SecureBytes(capacity: capacity(vars, factor: 2, overhead: 12) + (metaText?.utf8.count ?? 0) + 8, empty: true)
        out.append("{\n")
        for (i, v) in vars.enumerated() {
            out.append("  \(JSONText.string(v.name)): \"")
            appendValue(v, to: &out) { $0 == 0x22 || $0 == 0x5C ? [0x5C, $0] : nil }
            out.append(i == vars.count - 1 && metaText == nil ? "\"\n" : "\",\n")
        }
        if let metaText { out.append(metaText + "\n") }
        out.append("}\n")
        return out
    }

    /// GitHub Actions, stdout part: one `::add-mask::` line per secret.
    public static func githubMask(_ vars: [ExportVariable]) -> SecureBytes {
        var mask = SecureBytes(capacity: capacity(vars.filter(\.isSecret), factor: 3, overhead: 16), empty: true)
        for v in vars where v.isSecret {
            mask.append("::add-mask::")
            // The runner unescapes a command's value (%25 → %, %0D → CR, %0A → LF) before it
            // registers the mask: escape it the same way, or a token holding "%25" would be
            // masked as "%" and logged in the clear. (Tokens hold no CR or LF.)
            v.token.secret.withUnsafeBytes { raw in
                for b in raw {
                    if b == UInt8(ascii: "%") { mask.append("%25") } else { mask.append(b) }
                }
            }
            mask.append("\n")
        }
        return mask
    }

    /// GitHub Actions, $GITHUB_ENV part: `NAME<<DELIMITER` heredocs with a random delimiter.
    public static func githubEnv(_ vars: [ExportVariable]) -> SecureBytes {
        // Values are single-line, so a delimiter on its own line can never be matched early;
        // it is random anyway, as in GitHub's own toolkit (ghadelimiter_<uuid>).
        let delimiter = "ghadelimiter_" + Sodium.randomBytes(16).map { String(format: "%02x", $0) }.joined()
        var env = SecureBytes(capacity: capacity(vars, factor: 1, overhead: 2 * delimiter.utf8.count + 8), empty: true)
        for v in vars {
            env.append("\(v.name)<<\(delimiter)\n")
            appendValue(v, to: &env)
            env.append("\n\(delimiter)\n")
        }
        return env
    }

    /// The token bytes of the single secret, plus a newline if asked.
    public static func raw(_ vars: [ExportVariable], newline: Bool) throws(VaultError) -> SecureBytes {
        let secrets = vars.filter(\.isSecret)
        guard secrets.count == 1 else {
            throw .invalidInput(reason: "--format raw exports exactly one token", hint: nil)
        }
        var out = SecureBytes(capacity: secrets[0].token.secret.count + 1, empty: true)
        out.append(secrets[0].token.secret)
        if newline { out.append(0x0A) }
        return out
    }
}
