/// Bech32 (BIP 173, not bech32m) as age uses it: no length limit on the data part, one case
/// throughout, the checksum computed over the lowercase string.
public enum Bech32 {
    private static let charset = Array("qpzry9x8gf2tvdw0s3jn54khce6mua7l".utf8)
    private static let reverse: [Int8] = {
        var table = [Int8](repeating: -1, count: 128)
        for (i, c) in charset.enumerated() { table[Int(c)] = Int8(i) }
        return table
    }()

    private static func polymod(_ values: [UInt8]) -> UInt32 {
        let gen: [UInt32] = [0x3b6a_57b2, 0x2650_8e6d, 0x1ea1_19fa, 0x3d42_33dd, 0x2a14_62b3]
        var chk: UInt32 = 1
        for v in values {
            let top = chk >> 25
            chk = (chk & 0x1ff_ffff) << 5 ^ UInt32(v)
            for i in 0..<5 where (top >> UInt32(i)) & 1 == 1 { chk ^= gen[i] }
        }
        return chk
    }

    private static func hrpExpand(_ hrp: [UInt8]) -> [UInt8] {
        hrp.map { $0 >> 5 } + [0] + hrp.map { $0 & 31 }
    }

    /// Regroups bits; with `pad` false, leftover bits must be fewer than `from` and all zero.
    private static func convertBits(_ data: [UInt8], from: Int, to: Int, pad: Bool) -> [UInt8]? {
        var acc = 0, bits = 0
        var out: [UInt8] = []
        out.reserveCapacity(data.count * from / to + 1)
        let maxv = (1 << to) - 1
        for value in data {
            guard Int(value) >> from == 0 else { return nil }
            acc = (acc << from) | Int(value)
            bits += from
            while bits >= to {
                bits -= to
                out.append(UInt8((acc >> bits) & maxv))
            }
            acc &= (1 << bits) - 1
        }
        if pad {
            if bits > 0 { out.append(UInt8((acc << (to - bits)) & maxv)) }
        } else if bits >= from || (acc << (to - bits)) & maxv != 0 {
            return nil
        }
        return out
    }

    /// The lowercase Bech32 string for `hrp` (lowercased) and `data`.
    public static func encode(hrp: String, data: [UInt8]) -> String {
        let h = Array(hrp.lowercased().utf8)
        let values = convertBits(data, from: 8, to: 5, pad: true)!
        let mod = polymod(hrpExpand(h) + values + [0, 0, 0, 0, 0, 0]) ^ 1
        var out = h + [UInt8(ascii: "1")]
        for v in values { out.append(charset[Int(v)]) }
        for i in 0..<6 { out.append(charset[Int((mod >> UInt32(5 * (5 - i))) & 31)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// The human-readable part (lowercase) and the data of a Bech32 string; nil when the
    /// string mixes cases, has a character outside 33…126 or the charset, a bad checksum, an
    /// empty human-readable part, a data part under six characters, or non-zero padding bits.
    public static func decode(_ s: String) -> (hrp: String, data: [UInt8])? {
        let bytes = Array(s.utf8)
        var lower = false, upper = false
        for b in bytes {
            guard b >= 33 && b <= 126 else { return nil }
            if b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z") { lower = true }
            if b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") { upper = true }
        }
        guard !(lower && upper) else { return nil }
        let folded = bytes.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 + 32 : $0 }
        guard let sep = folded.lastIndex(of: UInt8(ascii: "1")), sep >= 1, folded.count - sep - 1 >= 6 else { return nil }
        let hrp = Array(folded[..<sep])
        var values: [UInt8] = []
        values.reserveCapacity(folded.count - sep - 1)
        for c in folded[(sep + 1)...] {
            let v = reverse[Int(c)]
            guard v >= 0 else { return nil }
            values.append(UInt8(v))
        }
        guard polymod(hrpExpand(hrp) + values) == 1 else { return nil }
        guard let data = convertBits(Array(values.dropLast(6)), from: 5, to: 8, pad: false) else { return nil }
        return (String(decoding: hrp, as: UTF8.self), data)
    }
}
