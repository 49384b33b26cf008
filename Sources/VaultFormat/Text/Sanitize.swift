/// Text from the vault file or the network, made safe to print on a terminal.
///
/// Names, roles, descriptions and base URLs are checked when v1vault writes them, but the file
/// is hostile input and a server's error text is too: a C0 or C1 control (ESC, U+009B CSI,
/// U+0085 NEL), a line or paragraph separator, or a bidirectional override (U+202E) could
/// forge lines, move the cursor or make text read backwards. Each such scalar is printed as
/// `\uXXXX` instead: visible on a terminal, and the same character to a JSON parser.
public enum Sanitize {
    /// True for scalars that must not reach a terminal raw.
    public static func isUnsafe(_ scalar: Unicode.Scalar, keepNewlines: Bool = false) -> Bool {
        switch scalar.value {
        case 0x0A, 0x09: return !keepNewlines
        case 0x00...0x1F, 0x7F...0x9F: return true
        case 0x061C, 0x200E, 0x200F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069, 0xFEFF: return true
        default: return false
        }
    }

    /// `s` with every unsafe scalar written as `\uXXXX`.
    public static func display(_ s: String, keepNewlines: Bool = false) -> String {
        guard s.unicodeScalars.contains(where: { isUnsafe($0, keepNewlines: keepNewlines) }) else { return s }
        var out = ""
        for scalar in s.unicodeScalars {
            if isUnsafe(scalar, keepNewlines: keepNewlines) {
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Server-supplied text for one line of display: safe and at most `max` characters.
    public static func serverText(_ s: String, max: Int) -> String {
        String(display(s).prefix(max))
    }
}
