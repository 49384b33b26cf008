/// Strict base64 (RFC 4648 §4) as age uses it: the standard alphabet only, canonical (the
/// unused bits of the last character are zero), either without padding (the header) or with
/// exact `=` padding (the ASCII armor). Nothing else is tolerated: no whitespace, no newline.
enum AgeBase64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let reverse: [Int8] = {
        var table = [Int8](repeating: -1, count: 256)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = Int8(i) }
        return table
    }()

    /// Unpadded encoding.
    static func encode(_ data: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity((data.count * 4 + 2) / 3)
        var it = data.makeIterator()
        while let a = it.next() {
            let b = it.next(), c = it.next()
            out.append(alphabet[Int(a >> 2)])
            out.append(alphabet[Int((a & 3) << 4 | (b ?? 0) >> 4)])
            if let b { out.append(alphabet[Int((b & 15) << 2 | (c ?? 0) >> 6)]) }
            if let c { out.append(alphabet[Int(c & 63)]) }
        }
        return out
    }

    /// Decodes `text`; `padded` selects the armor's form (length a multiple of 4, `=` padding)
    /// over the header's (no `=` at all). nil when anything is not canonical.
    static func decode(_ text: ArraySlice<UInt8>, padded: Bool) -> [UInt8]? {
        var body = text
        if padded {
            guard body.count % 4 == 0 else { return nil }
            var pads = 0
            while pads < 2, body.last == UInt8(ascii: "=") { body.removeLast(); pads += 1 }
            // Padding only completes the last quantum: "xx==" or "xxx=".
            guard pads == 0 || body.count % 4 == 4 - pads else { return nil }
        }
        guard body.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(body.count * 3 / 4)
        var acc: UInt32 = 0, n = 0
        for c in body {
            let v = reverse[Int(c)]
            guard v >= 0 else { return nil }
            acc = acc << 6 | UInt32(v)
            n += 1
            if n == 4 {
                out.append(UInt8(acc >> 16 & 0xff)); out.append(UInt8(acc >> 8 & 0xff)); out.append(UInt8(acc & 0xff))
                acc = 0; n = 0
            }
        }
        switch n {
        case 2:
            guard acc & 0xf == 0 else { return nil }
            out.append(UInt8(acc >> 4 & 0xff))
        case 3:
            guard acc & 0x3 == 0 else { return nil }
            out.append(UInt8(acc >> 10 & 0xff)); out.append(UInt8(acc >> 2 & 0xff))
        default:
            break
        }
        return out
    }
}
