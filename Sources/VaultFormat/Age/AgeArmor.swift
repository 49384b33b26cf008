/// age's ASCII armor: strict PEM (RFC 7468 §3, figure 3) with the label "AGE ENCRYPTED FILE",
/// as the reference implementation reads it.
enum AgeArmor {
    static let begin = Array("-----BEGIN AGE ENCRYPTED FILE-----".utf8)
    static let end = Array("-----END AGE ENCRYPTED FILE-----".utf8)
    /// How much whitespace may surround the block (the reference's limit).
    static let maxWhitespace = 1024

    private static func isSpace(_ b: UInt8) -> Bool {
        b == 0x20 || b == 0x09 || b == 0x0a || b == 0x0d || b == 0x0b || b == 0x0c
    }

    /// Whether `file` is armored: after optional leading whitespace it starts with "-----BEGIN"
    /// (a binary age file starts with "age-encryption.org/").
    static func isArmored(_ file: [UInt8]) -> Bool {
        guard let first = file.firstIndex(where: { !isSpace($0) }) else { return false }
        return file[first...].starts(with: "-----BEGIN".utf8)
    }

    /// The binary age file inside the armor. Accepted: whitespace-only lines before the block
    /// and whitespace after it (1024 bytes at most each), LF or CRLF line ends, no final EOL.
    /// Rejected: any other text outside the block, headers, empty lines, lines over 64
    /// columns, a short line that is not the last, non-canonical base64 or padding.
    static func decode(_ file: [UInt8]) throws(AgeError) -> [UInt8] {
        var pos = 0
        /// The next line without LF and one CR before it; nil at the end of the input.
        func nextLine() -> ArraySlice<UInt8>? {
            guard pos < file.count else { return nil }
            let end = file[pos...].firstIndex(of: UInt8(ascii: "\n")) ?? file.count
            var line = file[pos..<end]
            pos = min(end + 1, file.count)
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            return line
        }
        var skipped = 0
        while true {
            guard let line = nextLine() else { throw .malformed("armor: no begin line") }
            if line.allSatisfy(isSpace) {
                skipped += line.count + 1
                guard skipped <= maxWhitespace else { throw .malformed("armor: too much leading whitespace") }
                continue
            }
            guard line.elementsEqual(begin) else { throw .malformed("armor: invalid begin line") }
            break
        }
        var out: [UInt8] = []
        out.reserveCapacity(file.count * 3 / 4)
        while true {
            guard let line = nextLine() else { throw .malformed("armor: no end line") }
            if line.elementsEqual(end) { break }
            guard !line.isEmpty else { throw .malformed("armor: empty line") }
            guard line.count <= AgeHeader.columnsPerLine else { throw .malformed("armor: line too long") }
            guard let bytes = AgeBase64.decode(line, padded: true) else { throw .malformed("armor: invalid base64") }
            out += bytes
            if bytes.count < AgeHeader.bytesPerLine {
                guard let close = nextLine(), close.elementsEqual(end) else { throw .malformed("armor: invalid end line") }
                break
            }
        }
        let rest = file[pos...]
        guard rest.allSatisfy(isSpace) else { throw .malformed("armor: data after the end line") }
        guard rest.count < maxWhitespace else { throw .malformed("armor: too much trailing whitespace") }
        return out
    }
}
