import Foundation

/// One key in a transfer document: everything but its value (which stays in secure memory).
public struct TransferEntry: Sendable, Equatable {
    public var name: String
    public var region: String?
    public var baseURL: String
    public var role: String?
    public var description: String?
    public var permissions: [String]
    /// The sender's version number of this key.
    public var version: Int
    public var createdAt: Int64
    public var expiresAt: Int64?
    public var consoleID: String?
    public var consoleName: String?

    public init(name: String, region: String?, baseURL: String, role: String?, description: String?, permissions: [String],
                version: Int, createdAt: Int64, expiresAt: Int64?, consoleID: String?, consoleName: String?) {
        self.name = name
        self.region = region
        self.baseURL = baseURL
        self.role = role
        self.description = description
        self.permissions = permissions
        self.version = version
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.consoleID = consoleID
        self.consoleName = consoleName
    }
}

/// A transfer document as parsed: its fields, where each value lies in the document's bytes,
/// and what the signature covers. Nothing here is trusted until `verify` says so.
public struct ParsedTransfer: Sendable, Equatable {
    public var from: AgeRecipient
    public var signer: [UInt8]
    public var issued: Int64
    public var to: [AgeRecipient]
    public var entries: [TransferEntry]
    /// Byte ranges of each entry's value in the document.
    public var valueRanges: [Range<Int>]
    /// Byte range of each entry from its `key` line through its `value` line.
    public var entryRanges: [Range<Int>]
    /// The bytes the signature covers (everything before the `signature` line).
    public var signedRange: Range<Int>
    public var signature: [UInt8]
}

/// The signed plaintext of a v1vault age file (SECURITY.md, "Transfer document"): UTF-8 lines
/// ending in LF, in a fixed order, the last one an Ed25519 signature over every byte before it.
///
///     v1vault-transfer 1
///     from age1…
///     signer v1vsig1…
///     issued 2027-01-04T03:00:00Z
///     to age1…                       (1 to 64 lines, no duplicates)
///     keys N                         (1 to 1000)
///     key "name"                     then, for each key, exactly these lines:
///     region "eu" | null
///     base-url "https://…"
///     role "…" | null
///     description "…" | null
///     permissions ["…",…]
///     version N
///     created 2027-…Z
///     expires 2027-…Z | never
///     console-id "…" | null
///     console-name "…" | null
///     value <the key: 1 to 16384 bytes 0x21–0x7E>
///     end
///     signature <base64 of the 64-byte Ed25519 signature>
///
/// Strings are JSON string literals exactly as `JSONText.string` writes them (so each has one
/// encoding); numbers are decimal without sign or leading zeros.
public enum TransferDocument {
    public static let magic = "v1vault-transfer 1"
    /// Prepended to the signed bytes (domain separation from any other Ed25519 use of the key).
    public static let signatureContext = Array("v1vault-transfer-signature-v1\n".utf8)
    public static let maxBytes = 4 << 20
    public static let maxKeys = 1000
    public static let maxAddressees = 64

    /// Writes a signed document. `valueLength(i)` and `appendValue(i, &buffer)` supply entry
    /// i's value straight into the document's secure buffer.
    package static func build(sender: borrowing ShareIdentity, issued: Int64, to: [AgeRecipient], entries: [TransferEntry],
                              valueLength: (Int) -> Int, appendValue: (Int, inout SecureBytes) -> Void) -> SecureBytes {
        precondition(!to.isEmpty && to.count <= maxAddressees && !entries.isEmpty && entries.count <= maxKeys)
        var header = "\(magic)\nfrom \(sender.recipient.text)\nsigner \(SigningKey.text(sender.signingPublic))\n"
        header += "issued \(Timestamp.iso(Timestamp.date(issued)))\n"
        for r in to { header += "to \(r.text)\n" }
        header += "keys \(entries.count)\n"
        var heads: [String] = []
        for e in entries {
            func opt(_ s: String?) -> String { s.map(JSONText.string) ?? "null" }
            var h = "key \(JSONText.string(e.name))\nregion \(opt(e.region))\nbase-url \(JSONText.string(e.baseURL))\n"
            h += "role \(opt(e.role))\ndescription \(opt(e.description))\npermissions \(JSONText.array(e.permissions))\n"
            h += "version \(e.version)\ncreated \(Timestamp.iso(Timestamp.date(e.createdAt)))\n"
            h += "expires \(e.expiresAt.map { Timestamp.iso(Timestamp.date($0)) } ?? "never")\n"
            h += "console-id \(opt(e.consoleID))\nconsole-name \(opt(e.consoleName))\nvalue "
            heads.append(h)
        }
        let signedCount = header.utf8.count + heads.enumerated().reduce(0) { $0 + $1.element.utf8.count + valueLength($1.offset) + 5 }
        var doc = SecureBytes(capacity: signedCount + "signature \n".utf8.count + 88, empty: true)
        doc.append(header)
        for (i, h) in heads.enumerated() {
            doc.append(h)
            appendValue(i, &doc)
            doc.append("\nend\n")
        }
        precondition(doc.count == signedCount)
        let signature = doc.withUnsafeBytes { d in
            var message = SecureBytes(capacity: signatureContext.count + d.count, empty: true)
            signatureContext.withUnsafeBytes { message.append($0) }
            message.append(d)
            return message.withUnsafeBytes { sender.sign($0) }
        }
        doc.append("signature \(Data(signature).base64EncodedString())\n")
        return doc
    }

    /// Parses the structure of a document strictly (field order, encodings, bounds). Does not
    /// check the signature: see `verify`.
    public static func parse(_ doc: borrowing SecureBytes) throws(TransferError) -> ParsedTransfer {
        try doc.withUnsafeBytes { (buf: UnsafeRawBufferPointer) throws(TransferError) -> ParsedTransfer in
            var reader = LineReader(buf: buf)
            return try parse(&reader)
        }
    }

    /// Whether the signature verifies under `key` over the signed bytes.
    public static func verify(_ doc: borrowing SecureBytes, _ parsed: ParsedTransfer, key: [UInt8]) -> Bool {
        doc.withUnsafeBytes { d in
            var message = SecureBytes(capacity: signatureContext.count + parsed.signedRange.count, empty: true)
            signatureContext.withUnsafeBytes { message.append($0) }
            message.append(UnsafeRawBufferPointer(rebasing: d[parsed.signedRange]))
            return message.withUnsafeBytes { SigningKey.verify(signature: parsed.signature, message: $0, publicKey: key) }
        }
    }

    // MARK: - Parsing

    private struct LineReader {
        let buf: UnsafeRawBufferPointer
        var offset = 0

        /// The next line's range (without its LF); throws at the end or without an LF.
        mutating func next(_ what: String) throws(TransferError) -> Range<Int> {
            guard offset < buf.count else { throw .malformed("ends before \(what)") }
            var i = offset
            while i < buf.count && buf[i] != 0x0A { i += 1 }
            guard i < buf.count else { throw .malformed("the line of \(what) has no line feed") }
            defer { offset = i + 1 }
            return offset..<i
        }

        /// The next line, which must be `field SP value`; returns the value (not a secret).
        mutating func field(_ name: String) throws(TransferError) -> String {
            let r = try next(name)
            let prefix = Array((name + " ").utf8)
            guard r.count > prefix.count, buf[r.lowerBound..<(r.lowerBound + prefix.count)].elementsEqual(prefix) else {
                throw .malformed("expected \(name)")
            }
            guard let s = String(validating: buf[(r.lowerBound + prefix.count)..<r.upperBound], as: UTF8.self) else {
                throw .malformed("\(name) is not UTF-8")
            }
            return s
        }

        /// The next line, which must be exactly `text`.
        mutating func exact(_ text: String) throws(TransferError) {
            let r = try next(text)
            guard buf[r].elementsEqual(Array(text.utf8)) else { throw .malformed("expected \(text)") }
        }
    }

    private static func parse(_ reader: inout LineReader) throws(TransferError) -> ParsedTransfer {
        guard reader.buf.count <= maxBytes else { throw .malformed("larger than \(maxBytes) bytes") }
        try reader.exact(magic)
        guard let from = AgeRecipient(try reader.field("from")) else { throw .malformed("from is not an age recipient") }
        guard let signer = SigningKey.parse(try reader.field("signer")) else { throw .malformed("signer is not a v1vsig1 signing key") }
        let issued = try time(try reader.field("issued"), "issued")
        var to: [AgeRecipient] = []
        var keyCount = 0
        while true {
            let r = try reader.next("keys")
            let line = reader.buf[r]
            if line.starts(with: Array("to ".utf8)) {
                guard let s = String(validating: line.dropFirst(3), as: UTF8.self), let a = AgeRecipient(s) else {
                    throw .malformed("to is not an age recipient")
                }
                guard !to.contains(a) else { throw .malformed("an addressee is listed twice") }
                to.append(a)
                guard to.count <= maxAddressees else { throw .malformed("more than \(maxAddressees) addressees") }
            } else if line.starts(with: Array("keys ".utf8)) {
                guard let s = String(validating: line.dropFirst(5), as: UTF8.self), let n = number(s), (1...maxKeys).contains(n) else {
                    throw .malformed("keys is not a number from 1 to \(maxKeys)")
                }
                keyCount = n
                break
            } else {
                throw .malformed("expected to or keys")
            }
        }
        guard !to.isEmpty else { throw .malformed("no addressee") }
        var entries: [TransferEntry] = []
        var valueRanges: [Range<Int>] = []
        var entryRanges: [Range<Int>] = []
        var names = Set<String>()
        for _ in 0..<keyCount {
            let start = reader.offset
            let name = try string(try reader.field("key"), "key")
            guard Validate.isTokenName(name) else { throw .malformed("key is not a valid token name") }
            guard names.insert(name).inserted else { throw .malformed("key \(name) is listed twice") }
            let region = try optionalString(try reader.field("region"), "region")
            if let region, Region(rawValue: region) == nil { throw .malformed("region is not a Vision One region") }
            let baseURL = try string(try reader.field("base-url"), "base-url")
            guard (try? Validate.baseURL(baseURL)) == baseURL else { throw .malformed("base-url is not a canonical base URL") }
            if let region, Region(rawValue: region)?.baseURL != baseURL { throw .malformed("base-url is not the region's") }
            let role = try optionalText(try reader.field("role"), "role")
            let description = try optionalText(try reader.field("description"), "description", max: 1024)
            let permissions = try stringArray(try reader.field("permissions"), "permissions")
            guard let version = number(try reader.field("version")), (1...Int(UInt32.max)).contains(version) else {
                throw .malformed("version is not a number from 1 to 4294967295")
            }
            let created = try time(try reader.field("created"), "created")
            let expiresText = try reader.field("expires")
            let expires: Int64? = expiresText == "never" ? nil : try time(expiresText, "expires")
            let consoleID = try optionalString(try reader.field("console-id"), "console-id")
            if let consoleID, !ConsoleLink.isValidID(consoleID) { throw .malformed("console-id is not a console key id") }
            let consoleName = try optionalString(try reader.field("console-name"), "console-name")
            if let consoleName, !ConsoleLink.isValidName(consoleName) { throw .malformed("console-name is not a console key name") }
            let v = try reader.next("value")
            let prefix = Array("value ".utf8)
            guard v.count > prefix.count, reader.buf[v.lowerBound..<(v.lowerBound + prefix.count)].elementsEqual(prefix) else {
                throw .malformed("expected value")
            }
            let valueRange = (v.lowerBound + prefix.count)..<v.upperBound
            guard TokenInput.isWellFormed(UnsafeRawBufferPointer(rebasing: reader.buf[valueRange])) else {
                throw .malformed("the value of \(name) is not a well-formed key")
            }
            let end = reader.offset
            try reader.exact("end")
            entries.append(TransferEntry(name: name, region: region, baseURL: baseURL, role: role, description: description,
                                         permissions: permissions, version: version, createdAt: created, expiresAt: expires,
                                         consoleID: consoleID, consoleName: consoleName))
            valueRanges.append(valueRange)
            entryRanges.append(start..<end)
        }
        let signedRange = 0..<reader.offset
        let sigText = try reader.field("signature")
        guard sigText.utf8.count == 88, let sig = Data(base64Encoded: sigText), sig.count == 64,
              sig.base64EncodedString() == sigText else { throw .malformed("signature is not 64 bytes of base64") }
        guard reader.offset == reader.buf.count else { throw .malformed("data after the signature") }
        return ParsedTransfer(from: from, signer: signer, issued: issued, to: to, entries: entries, valueRanges: valueRanges,
                              entryRanges: entryRanges, signedRange: signedRange, signature: Array(sig))
    }

    /// A decimal number without sign or leading zeros, at most 10 digits.
    private static func number(_ s: String) -> Int? {
        let b = Array(s.utf8)
        guard !b.isEmpty, b.count <= 10, b.allSatisfy({ $0 >= 48 && $0 <= 57 }), b.count == 1 || b[0] != 48 else { return nil }
        return Int(s)
    }

    private static func time(_ s: String, _ field: String) throws(TransferError) -> Int64 {
        guard s.utf8.count == 20, let d = Timestamp.parseDate(s), Timestamp.iso(d) == s else {
            throw .malformed("\(field) is not a time like 2027-01-04T03:00:00Z")
        }
        return Timestamp.seconds(d)
    }

    /// A JSON string literal in `JSONText.string`'s one encoding. Compared as bytes: `String`'s
    /// `hasPrefix` and `==` work on grapheme clusters and canonical equivalence, so a value that
    /// begins with a combining mark (`"` + U+0489 is one Character) failed `hasPrefix("\"")`, and
    /// a differently normalized spelling would compare equal.
    private static func string(_ s: String, _ field: String) throws(TransferError) -> String {
        guard s.utf8.count <= 4096, s.utf8.first == UInt8(ascii: "\""),
              let v = (try? JSONSerialization.jsonObject(with: Data(s.utf8), options: .fragmentsAllowed)) as? String,
              JSONText.string(v).utf8.elementsEqual(s.utf8) else { throw .malformed("\(field) is not a JSON string") }
        return v
    }

    private static func optionalString(_ s: String, _ field: String) throws(TransferError) -> String? {
        s == "null" ? nil : try string(s, field)
    }

    private static func optionalText(_ s: String, _ field: String, max: Int = 256) throws(TransferError) -> String? {
        guard let v = try optionalString(s, field) else { return nil }
        guard (try? Validate.text(v, field: field, max: max)) != nil else { throw .malformed("\(field) has control characters or is too long") }
        return v
    }

    private static func stringArray(_ s: String, _ field: String) throws(TransferError) -> [String] {
        guard s.utf8.count <= 16384, s.utf8.first == UInt8(ascii: "["),
              let v = (try? JSONSerialization.jsonObject(with: Data(s.utf8))) as? [Any],
              let strings = v as? [String], v.count == strings.count, v.count <= 256,
              JSONText.array(strings).utf8.elementsEqual(s.utf8) else { throw .malformed("\(field) is not a JSON array of strings") }
        for p in strings where (try? Validate.text(p, field: field)) == nil { throw .malformed("\(field) has control characters") }
        return strings
    }
}

/// A transfer document that is not well formed (the reason names a field, never a value).
public enum TransferError: Error, Equatable, Sendable {
    case malformed(String)

    public var reason: String { switch self { case .malformed(let r): return r } }
}
