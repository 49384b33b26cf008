/// One recipient stanza: `-> type args…` and its base64 body.
package struct AgeStanza: Sendable, Equatable {
    package var type: String
    package var args: [String]
    package var body: [UInt8]
}

/// A parsed age v1 header.
package struct AgeHeader: Sendable, Equatable {
    package var stanzas: [AgeStanza]
    /// The 32-byte header MAC.
    package var mac: [UInt8]
    /// How many bytes of the file the MAC covers: everything up to and including `---`.
    package var macInputLength: Int
    /// Where the payload (its 16-byte nonce first) starts.
    package var payloadOffset: Int
}

extension AgeHeader {
    /// At most this many stanzas, and this many header bytes, are read (v1vault writes one
    /// X25519 stanza per addressee, at most 64; other stanza types are skipped but counted).
    package static let maxStanzas = 256
    package static let maxHeaderBytes = 128 * 1024
    static let versionLine = Array("age-encryption.org/v1\n".utf8)
    static let columnsPerLine = 64
    static let bytesPerLine = columnsPerLine / 4 * 3  // 48

    /// Strict parse of the binary header (age spec, "ABNF definition of file header"):
    /// the exact v1 line; stanzas `-> ` + arguments of VCHARs separated by single spaces,
    /// then canonical unpadded base64 body lines of exactly 64 columns ended by one shorter
    /// line (possibly empty); then `--- ` + the canonical base64 of a 32-byte MAC + LF.
    /// CR is never accepted. The header must hold at least one stanza.
    static func parse(_ file: [UInt8]) throws(AgeError) -> AgeHeader {
        guard file.count >= versionLine.count, file[..<versionLine.count].elementsEqual(versionLine) else {
            throw .malformed(file.isEmpty ? "empty file" : "not an age v1 file")
        }
        var pos = versionLine.count
        let lf = UInt8(ascii: "\n")

        /// The next line without its LF; a file that ends first is malformed.
        func nextLine() throws(AgeError) -> ArraySlice<UInt8> {
            guard let end = file[pos...].firstIndex(of: lf) else { throw .malformed("header is truncated") }
            let line = file[pos..<end]
            pos = end + 1
            return line
        }

        var stanzas: [AgeStanza] = []
        while true {
            guard file.count - pos >= 3 else { throw .malformed("header is truncated") }
            if file[pos..<pos + 3].elementsEqual("---".utf8) {
                let start = pos
                let line = try nextLine()
                let parts = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
                guard parts.count == 2, parts[0].elementsEqual("---".utf8),
                      let mac = AgeBase64.decode(parts[1], padded: false), mac.count == 32 else {
                    throw .malformed("malformed mac line")
                }
                guard !stanzas.isEmpty else { throw .malformed("header has no recipient stanza") }
                return AgeHeader(stanzas: stanzas, mac: mac, macInputLength: start + 3, payloadOffset: pos)
            }
            let opening = try nextLine()
            let parts = opening.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
            guard parts.count >= 2, parts[0].elementsEqual("->".utf8) else { throw .malformed("malformed stanza line") }
            var args: [String] = []
            for arg in parts.dropFirst() {
                guard !arg.isEmpty, arg.allSatisfy({ $0 >= 33 && $0 <= 126 }) else { throw .malformed("malformed stanza argument") }
                args.append(String(decoding: arg, as: UTF8.self))
            }
            var body: [UInt8] = []
            while true {
                let line = try nextLine()
                guard line.count <= columnsPerLine, let chunk = AgeBase64.decode(line, padded: false) else {
                    throw .malformed("malformed stanza body")
                }
                body += chunk
                if chunk.count < bytesPerLine { break }
            }
            stanzas.append(AgeStanza(type: args[0], args: Array(args.dropFirst()), body: body))
            // Bounds before any X25519 work (red team, #24): a 4 MiB header of 40,000 stanzas
            // cost a minute. age itself sets none; v1vault's drops have at most 64 addressees.
            guard stanzas.count <= Self.maxStanzas else { throw .malformed("more than \(Self.maxStanzas) stanzas") }
            guard pos <= Self.maxHeaderBytes else { throw .malformed("header longer than \(Self.maxHeaderBytes) bytes") }
        }
    }
}
