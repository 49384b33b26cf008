/// Parsing and printing of memory sizes such as `64M`, `1G`, `262144K`.
public enum ByteSize {
    /// Parses `N`, `NK`, `NM`, `NG` (binary units, case-insensitive, optional trailing `iB`/`B`).
    public static func parse(_ text: String) throws(VaultError) -> UInt64 {
        var s = text.uppercased()
        if s.hasSuffix("IB") { s.removeLast(2) } else if s.hasSuffix("B") { s.removeLast() }
        var multiplier: UInt64 = 1
        switch s.last {
        case "K": multiplier = 1 << 10; s.removeLast()
        case "M": multiplier = 1 << 20; s.removeLast()
        case "G": multiplier = 1 << 30; s.removeLast()
        default: break
        }
        guard !s.isEmpty, s.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), s.utf8.count <= 12, let n = UInt64(s) else {
            throw .invalidInput(reason: "invalid size \(displayName(text))", hint: "use a number with K, M or G, e.g. 64M or 1G")
        }
        let (v, overflow) = n.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { throw .invalidInput(reason: "size \(displayName(text)) is too large", hint: nil) }
        return v
    }

    /// `268435456` → `256M`; exact binary units where possible.
    public static func format(_ bytes: UInt64) -> String {
        if bytes >= 1 << 30, bytes % (1 << 30) == 0 { return "\(bytes >> 30)G" }
        if bytes >= 1 << 20, bytes % (1 << 20) == 0 { return "\(bytes >> 20)M" }
        if bytes >= 1 << 10, bytes % (1 << 10) == 0 { return "\(bytes >> 10)K" }
        return "\(bytes)"
    }
}
