import Foundation
import VaultCore
import VaultFormat

/// Printing: results to stdout, diagnostics to stderr, secrets straight from secure memory.
enum Output {
    /// Every line of results passes through `Sanitize`: text read from the file (names, roles,
    /// descriptions, audit details) or the network never reaches the terminal raw. Secrets do
    /// not come this way (`writeSecret`), and JSON stays valid (`\uXXXX` is a JSON escape).
    static func line(_ s: String = "") { print(Sanitize.display(s, keepNewlines: true)) }

    /// The name the user typed: `v1vault` (the Debian package's command) or `vault`. Usage,
    /// help and every hint that names a command use it.
    static let program: String = {
        let base = (Main.arguments.first ?? "vault").split(separator: "/").last.map(String.init) ?? "vault"
        return base == "v1vault" ? "v1vault" : "vault"
    }()

    /// `text` with each "`vault " (a command in a hint) spelled as the user invoked it; help
    /// text may have wrapped the line right after the name.
    static func spelled(_ text: String) -> String {
        guard program != "vault" else { return text }
        return text.replacingOccurrences(of: "`vault ", with: "`\(program) ").replacingOccurrences(of: "`vault\n", with: "`\(program)\n")
    }

    /// --quiet: no confirmations on stdout, no notes or hints on stderr; results, warnings
    /// and errors (with their hints) still appear.
    nonisolated(unsafe) static var quiet = false

    static func warn(_ s: String) { stderr("warning: \(s)\n") }
    static func hint(_ s: String) { if !quiet { stderr("hint: \(s)\n") } }
    static func note(_ s: String) { if !quiet { stderr("\(s)\n") } }

    /// A confirmation of what a command did ("stored k version 1 …"): silent with --quiet.
    static func done(_ s: String) { if !quiet { line(spelled(s)) } }

    /// A command's result as one line of JSON (--json): printed even with --quiet.
    static func result(_ fields: [(String, JSONValue)]) {
        line("{" + fields.map { "\(JSONValue.string($0.0).text):\($0.1.text)" }.joined(separator: ",") + "}")
    }

    /// Fixed text to stdout, unsanitised (for text v1vault itself wrote, never read data).
    static func stdout(_ text: String) {
        fflush(nil)
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Glibc.write(1, $0.baseAddress!, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return }  // a closed or broken stdout: nothing more to say there
            bytes = bytes.dropFirst(n)
        }
    }

    /// Writes to stderr after flushing stdout, so interleaved output keeps its order.
    static func stderr(_ text: String) {
        fflush(nil)
        FileHandle.standardError.write(Data(Sanitize.display(spelled(text), keepNewlines: true).utf8))
    }

    static func fail(_ error: VaultError, suggestion: String? = nil) {
        var text = "error: \(error)\n"
        if let suggestion {
            text += "hint: did you mean \(suggestion)? (`vault list` shows the stored names)\n"
        } else if let h = error.advice {
            text += "hint: \(h)\n"
        }
        stderr(text)
    }

    /// Writes bytes from secure memory to a file descriptor without copying them into a
    /// Swift String. Flushes stdout first so ordering is preserved.
    static func writeSecret(_ bytes: borrowing SecureBytes, fd: Int32 = 1) throws {
        try bytes.withUnsafeBytes { buf in try write(buf, fd: fd) }
    }

    static func writeSecret(_ view: SecretView, fd: Int32 = 1) throws {
        try view.withUnsafeBytes { buf in try write(buf, fd: fd) }
    }

    private static func write(_ buf: UnsafeRawBufferPointer, fd: Int32) throws {
        fflush(nil)
        guard buf.count > 0 else { return }
        var offset = 0
        while offset < buf.count {
            let n = Glibc.write(fd, buf.baseAddress! + offset, buf.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw VaultError.io(reason: "cannot write output: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    /// A one-line progress bar on stderr (only called when stderr is a terminal).
    static func progress(_ done: Int, of total: Int, done finished: Bool = false) {
        let width = 30
        let filled = total == 0 ? width : done * width / total
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        stderr("\r[\(bar)] \(done)/\(total)" + (finished ? "\n" : ""))
    }

    static func json<T: Encodable>(_ value: T) -> String {
        let enc = JSONEncoder()
        // Compact, one document per line: what jq and every JSON tool expect.
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        enc.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(Timestamp.iso(date))
        }
        return String(decoding: try! enc.encode(value), as: UTF8.self)
    }

    /// A left-aligned text table with a header row.
    static func table(_ header: [String], _ rows: [[String]]) {
        // One line per row: a cell read from the file cannot start a line of its own.
        let rows = rows.map { $0.map { Sanitize.display($0) } }
        var widths = header.map(\.count)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        func render(_ r: [String]) -> String {
            r.enumerated().map { i, c in i == r.count - 1 ? c : c.padded(to: widths[i]) }
                .joined(separator: "  ")
        }
        line(render(header))
        for r in rows { line(render(r)) }
    }

    static func expiry(_ date: Date?) -> String { date.map(Timestamp.day) ?? "never" }

    static func daysLeft(_ date: Date?, now: Date) -> String {
        date.map { String(ExpiryStatus.daysLeft(expires: $0, now: now)) } ?? "-"
    }
}

/// The few JSON values the result lines hold.
indirect enum JSONValue {
    case string(String), int(Int), bool(Bool), null, array([JSONValue]), object([(String, JSONValue)])

    static func date(_ d: Date?) -> JSONValue { d.map { .string(Timestamp.iso($0)) } ?? .null }

    var text: String {
        switch self {
        case .string(let s): return JSONText.string(s)
        case .int(let i): return String(i)
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        case .array(let a): return "[" + a.map(\.text).joined(separator: ",") + "]"
        case .object(let o): return "{" + o.map { JSONValue.string($0.0).text + ":" + $0.1.text }.joined(separator: ",") + "}"
        }
    }
}

extension String {
    /// Left-aligned in a column of `width` characters (never truncated). Counts characters, as
    /// the table widths do; NSString's padding counted UTF-16 units, so a non-BMP character
    /// (an emoji in a description) misaligned the column, and it was slow at 100,000 rows.
    func padded(to width: Int) -> String {
        let n = count
        return n >= width ? self : self + String(repeating: " ", count: width - n)
    }
}
