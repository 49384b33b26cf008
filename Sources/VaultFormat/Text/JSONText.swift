/// JSON text for the few fixed shapes v1vault writes itself (audit subjects and details,
/// permission lists, export key names): keys sorted, `/` not escaped, control characters as
/// `\uXXXX`, everything else as UTF-8. Foundation's JSONEncoder produces equivalent text but
/// was a measurable part of every command's start-up cost (docs/PERFORMANCE.md).
public enum JSONText {
    public static func string(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    package static func array(_ values: [String]) -> String {
        "[" + values.map(string).joined(separator: ",") + "]"
    }

    /// An object with string values, keys in ascending order.
    package static func object(_ fields: [String: String]) -> String {
        "{" + fields.sorted { $0.key < $1.key }.map { string($0.key) + ":" + string($0.value) }.joined(separator: ",") + "}"
    }
}
