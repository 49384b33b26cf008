import Foundation

/// One token to import, with the line (or array index) it came from for error messages.
public final class ImportEntry {
    public let name: String
    public let token: SecretView
    public let metadata: TokenMetadata
    public let expires: Date?
    /// 1-based line number (dotenv) or array index + 1 (json); 0 when not from a file.
    public let line: Int
    /// Whether `line` counts JSON array entries rather than lines.
    public let isEntry: Bool
    /// The console key the imported version is (json: `console_id`, `console_name`,
    /// `console_state`), as given: `importTokens` checks it as `add --console-id/--console-name`
    /// does. (Plain text, so that the parser builds without the storage types: scripts/fuzz.)
    public let consoleID: String?
    public let consoleName: String?
    public let consoleState: String?
    /// Whether the token becomes its base URL's manager key (json: `"manager": true`).
    public let manager: Bool

    public init(name: String, token: SecretView, metadata: TokenMetadata, expires: Date?, line: Int = 0, isEntry: Bool = false,
                consoleID: String? = nil, consoleName: String? = nil, consoleState: String? = nil, manager: Bool = false) {
        self.name = name; self.token = token; self.metadata = metadata; self.expires = expires; self.line = line; self.isEntry = isEntry
        self.consoleID = consoleID; self.consoleName = consoleName; self.consoleState = consoleState; self.manager = manager
    }

    /// `line N: ` (dotenv) or `entry N: ` (json) to start an error message with, or nothing
    /// when not from a file.
    package var at: String { line > 0 ? "\(isEntry ? "entry" : "line") \(line): " : "" }
}

/// Parsers for `vault import`. Input is untrusted; every error names its line or entry.
public enum ImportParser {
    /// Largest import file accepted (about 10,000 JWT-sized tokens per 12 MiB).
    public static let maxBytes = 256 * 1024 * 1024

    /// `NAME=TOKEN` per line. Blank lines and `#` comments are skipped, an `export ` prefix and
    /// one pair of matching surrounding quotes are removed, a trailing CR is dropped. Tokens are
    /// copied from the secure input buffer into their own secure buffers.
    public static func dotenv(_ input: consuming SecureBytes, metadata: TokenMetadata, expires: Date?) throws(VaultError) -> [ImportEntry] {
        var found: [(name: String, range: Range<Int>, line: Int)] = []
        // A UTF-8 byte-order mark (editors on Windows add one) is not part of the first name.
        var lineStart = Self.hasBOM(input) ? 3 : 0
        var lineNumber = 0
        let count = input.count
        while lineStart < count {
            lineNumber += 1
            var end = lineStart
            while end < count && input[end] != 0x0A { end += 1 }
            let next = end + 1
            if end > lineStart && input[end - 1] == 0x0D { end -= 1 }
            var s = lineStart
            while s < end && (input[s] == 0x20 || input[s] == 0x09) { s += 1 }
            defer { lineStart = next }
            if s == end || input[s] == UInt8(ascii: "#") { continue }
            let exportPrefix = Array("export ".utf8)
            if end - s > exportPrefix.count, (0..<exportPrefix.count).allSatisfy({ input[s + $0] == exportPrefix[$0] }) {
                s += exportPrefix.count
            }
            var eq = s
            while eq < end && input[eq] != UInt8(ascii: "=") { eq += 1 }
            guard eq < end else {
                throw .invalidInput(reason: "line \(lineNumber): expected NAME=TOKEN", hint: nil)
            }
            var nameBytes: [UInt8] = []
            for i in s..<eq { nameBytes.append(input[i]) }
            let name = String(decoding: nameBytes, as: UTF8.self)
            var vs = eq + 1, ve = end
            if ve - vs >= 2, input[vs] == input[ve - 1], input[vs] == 0x22 || input[vs] == 0x27 { vs += 1; ve -= 1 }
            // `vault export` output (a *_TMV1_URL or *_REGIONAL_FQDN line beside each token)
            // is not a list of tokens: refuse it rather than store URLs as keys and lose the
            // regions, names and expiry dates. (A URL is never a key; the check reads only
            // the value's first bytes.)
            let url = ["https://", "http://"].contains { p in ve - vs >= p.utf8.count && zip(p.utf8, vs..<ve).allSatisfy { $0 == (input[$1] | 0x20) } }
            if url || name.hasSuffix("_TMV1_URL") || name.hasSuffix("REGIONAL_FQDN") {
                throw .invalidInput(reason: "line \(lineNumber): \(displayName(name)) holds a URL, not a key: this looks like `vault export` output",
                                    hint: "to move keys between vaults with their names, regions and expiry: vault export --all --prefix --format json --json-meta -o FILE, then vault import FILE --format json")
            }
            found.append((name, vs..<ve, lineNumber))
        }
        // The tokens stay where they are: the input buffer becomes their arena.
        let arena = SecretArena(adopting: input)
        return found.map { ImportEntry(name: $0.name, token: arena.view($0.range), metadata: metadata, expires: expires, line: $0.line) }
    }

    package static func hasBOM(_ input: borrowing SecureBytes) -> Bool {
        input.count >= 3 && input[0] == 0xEF && input[1] == 0xBB && input[2] == 0xBF
    }

    /// The first key that occurs twice in one JSON object of `json` (decoded, so `"a"` and
    /// `"\u0061"` are the same key), or nil. Foundation's parser silently keeps the last one,
    /// which would import a token the user did not see as the value.
    package static func duplicateKey(_ json: UnsafeRawBufferPointer) -> String? {
        var objects: [Set<String>?] = []   // per open bracket: the keys seen, nil for an array
        var expectKey = false
        var i = 0
        while i < json.count {
            let b = json[i]
            switch b {
            case UInt8(ascii: "{"): objects.append([]); expectKey = true
            case UInt8(ascii: "["): objects.append(nil); expectKey = false
            case UInt8(ascii: "}"), UInt8(ascii: "]"): _ = objects.popLast(); expectKey = false
            case UInt8(ascii: ","): expectKey = objects.last.map { $0 != nil } ?? false
            case UInt8(ascii: "\""):
                var j = i + 1
                while j < json.count && json[j] != UInt8(ascii: "\"") { j += json[j] == UInt8(ascii: "\\") ? 2 : 1 }
                if expectKey, j < json.count, var keys = objects.last ?? nil {
                    let literal = Data(json[i...j])
                    let key = (try? JSONSerialization.jsonObject(with: literal, options: .fragmentsAllowed)) as? String ?? String(decoding: literal, as: UTF8.self)
                    if keys.contains(key) { return key }
                    keys.insert(key)
                    objects[objects.count - 1] = keys
                    expectKey = false
                }
                i = j
            default: break
            }
            i += 1
        }
        return nil
    }

    /// The members of the console link and the manager mark, in an array entry and in `_meta`
    /// alike (written by `export --json-meta` only when set; older files lack them).
    package static let linkFields: Set<String> = ["console_id", "console_name", "console_state", "manager"]
    package static let jsonFields: Set<String> = Set(["name", "token", "region", "base_url", "expires", "role", "description", "permissions"]).union(linkFields)
    package static let metaFields: Set<String> = Set(["token_var", "version", "expires", "region", "base_url", "role", "description", "permissions"]).union(linkFields)

    /// `vault export --format json --json-meta` output — variables plus `_meta` — as import
    /// entries: each `_meta` entry names its token's variable (`token_var`) and carries the
    /// metadata. Without `_meta` the token names cannot be known: refused with a hint.
    package static func exportedEntries(_ object: [String: Any]) throws(VaultError) -> [Any] {
        guard let meta = object["_meta"] as? [String: Any] else {
            throw .invalidInput(reason: "this looks like `vault export --format json` output without --json-meta: the token names and metadata are not in it",
                                hint: "export again with --json-meta, or import a JSON array of {\"name\", \"token\", …}")
        }
        var entries: [Any] = []
        for name in meta.keys.sorted() {
            let at = "_meta.\(displayName(name))"
            guard let m = meta[name] as? [String: Any] else { throw .invalidInput(reason: "\(at): not an object", hint: nil) }
            if let unknown = m.keys.sorted().first(where: { !metaFields.contains($0) }) {
                throw .invalidInput(reason: "\(at): unknown field \(displayName(unknown))", hint: nil)
            }
            guard let variable = m["token_var"] as? String else {
                throw .invalidInput(reason: "\(at): no token_var (written by a v1vault before 0.2; export again)", hint: nil)
            }
            guard let token = object[variable] as? String else { throw .invalidInput(reason: "\(at): no variable \(displayName(variable)) holds its token", hint: nil) }
            var entry: [String: Any] = ["name": name, "token": token]
            // The region implies the base URL; a custom base URL has no region.
            if let region = m["region"] as? String { entry["region"] = region } else if let url = m["base_url"] { entry["base_url"] = url }
            for key in ["expires", "role", "description", "permissions"] + linkFields.sorted() where m[key] != nil && !(m[key] is NSNull) { entry[key] = m[key] }
            if m["expires"] is NSNull { entry["expires"] = "never" }
            entries.append(entry)
        }
        return entries
    }

    /// A JSON array of objects with `name`, `token` and optional `region`, `base_url`,
    /// `expires`, `role`, `description`, `permissions`, `console_id`, `console_name`,
    /// `console_state` and `manager`; missing metadata comes from `defaults`.
    /// Note: Foundation's JSON parser holds the token text in ordinary memory while parsing.
    public static func json(_ input: borrowing SecureBytes, defaults: TokenMetadata, expires: Date?, now: Date) throws(VaultError) -> [ImportEntry] {
        let parsed: Any
        do {
            let skip = Self.hasBOM(input) ? 3 : 0
            parsed = try input.withUnsafeBytes { whole in
                let buf = UnsafeRawBufferPointer(rebasing: whole[skip...])
                if let key = duplicateKey(buf) {
                    throw VaultError.invalidInput(reason: "the key \(displayName(key)) appears twice in one object", hint: "each entry may name each field once")
                }
                return try JSONSerialization.jsonObject(with: Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: buf.baseAddress ?? whole.baseAddress!),
                                                                   count: buf.count, deallocator: .none))
            }
        } catch let e as VaultError {
            throw e
        } catch {
            throw .invalidInput(reason: "not valid JSON", hint: "expected an array of objects with \"name\" and \"token\"")
        }
        let array: [Any]
        if let list = parsed as? [Any] {
            array = list
        } else if let object = parsed as? [String: Any] {
            array = try exportedEntries(object)
        } else {
            throw .invalidInput(reason: "expected a JSON array of objects, or the output of `vault export --format json --json-meta`", hint: nil)
        }
        var entries: [ImportEntry] = []
        let arena = SecretArena(capacity: array.reduce(0) { $0 + ((($1 as? [String: Any])?["token"] as? String)?.utf8.count ?? 0) })
        for (i, item) in array.enumerated() {
            let at = "entry \(i + 1)"
            guard let obj = item as? [String: Any] else { throw .invalidInput(reason: "\(at): not an object", hint: nil) }
            if let unknown = obj.keys.sorted().first(where: { !jsonFields.contains($0) }) {
                throw .invalidInput(reason: "\(at): unknown field \(displayName(unknown))", hint: "fields: " + jsonFields.sorted().joined(separator: ", "))
            }
            func string(_ key: String) throws(VaultError) -> String? {
                guard let v = obj[key] else { return nil }
                if v is NSNull { return nil }
                guard let s = v as? String else { throw .invalidInput(reason: "\(at): \(key) must be a string", hint: nil) }
                return s
            }
            guard let name = try string("name") else { throw .invalidInput(reason: "\(at): missing name", hint: nil) }
            guard let tokenText = try string("token") else { throw .invalidInput(reason: "\(at): missing token", hint: nil) }
            var meta = defaults
            do throws(VaultError) {
                if let r = try string("region") { meta = TokenMetadata(region: try Region.parse(r), role: meta.role, description: meta.description, permissions: meta.permissions) }
                if let u = try string("base_url") { meta = TokenMetadata(region: nil, baseURL: try Validate.baseURL(u), role: meta.role, description: meta.description, permissions: meta.permissions) }
                if let r = try string("role") { meta.role = try Validate.text(r, field: "role") }
                if let d = try string("description") { meta.description = try Validate.text(d, field: "description", max: 1024) }
                if let p = obj["permissions"] {
                    guard let list = p as? [String] else { throw VaultError.invalidInput(reason: "permissions must be an array of strings", hint: nil) }
                    meta.permissions = try list.map { v throws(VaultError) in try Validate.text(v, field: "permission") }
                }
                let entryExpires = try string("expires").map { e throws(VaultError) in try ExpirySpec.parse(e, now: now) } ?? expires
                let manager = try flag(obj["manager"], "manager")
                var text = tokenText
                let token = text.withUTF8 { arena.store(UnsafeRawBufferPointer($0)) }
                entries.append(ImportEntry(name: name, token: token, metadata: meta, expires: entryExpires, line: i + 1, isEntry: true,
                                           consoleID: try string("console_id"), consoleName: try string("console_name"),
                                           consoleState: try string("console_state"), manager: manager))
            } catch {
                // string(_:) names the entry itself.
                let reason = "\(error)"
                throw .invalidInput(reason: reason.hasPrefix("\(at): ") ? reason : "\(at): \(reason)", hint: error.hint)
            }
        }
        return entries
    }
}

extension ImportParser {
    /// A JSON `true` or `false` (absent or null: false). Foundation would also read 1 and 0 as
    /// Bool; they are refused.
    package static func flag(_ value: Any?, _ key: String) throws(VaultError) -> Bool {
        guard let value, !(value is NSNull) else { return false }
        guard let n = value as? NSNumber, String(cString: n.objCType) == "c" else {
            throw .invalidInput(reason: "\(key) must be true or false", hint: nil)
        }
        return n.boolValue
    }
}
