/// Rules for the secret bytes of a token: what `add` and `rotate` accept.
public enum TokenInput {
    /// Vision One tokens are JWTs of about 1 KB; 16 KiB leaves room and bounds memory.
    public static let maxBytes = 16 * 1024

    /// Throws `invalidToken` unless the bytes are 1...16384 printable, non-space ASCII
    /// characters (0x21–0x7E). The message says what is wrong, never what the bytes are.
    public static func validate(_ token: borrowing SecureBytes) throws(VaultError) {
        try token.withUnsafeBytes { (b) throws(VaultError) in try validate(b) }
    }

    public static func validate(_ token: SecretView) throws(VaultError) {
        let problem: VaultError? = token.withUnsafeBytes { b in
            do throws(VaultError) { try validate(b); return nil } catch { return error }
        }
        if let problem { throw problem }
    }

    /// `raw` without surrounding whitespace (space, tab, CR, LF) and without a leading
    /// `Bearer ` (any case, then spaces or tabs); `stripped` gets a phrase for each. Interior
    /// whitespace stays, for `validate` to refuse.
    public static func trimmed(_ raw: consuming SecureBytes, stripped: inout [String]) -> SecureBytes {
        let range: (Int, Int, Bool, Bool) = raw.withUnsafeBytes { b in
            func space(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D }
            var lo = 0, hi = b.count
            while lo < hi, space(b[lo]) { lo += 1 }
            while hi > lo, space(b[hi - 1]) { hi -= 1 }
            let trimmedSpace = lo > 0 || hi < b.count
            var bearer = false
            let word = Array("bearer".utf8)
            if hi - lo > word.count, zip(b[lo..<(lo + word.count)], word).allSatisfy({ $0 | 0x20 == $1 }), b[lo + word.count] == 0x20 || b[lo + word.count] == 0x09 {
                var i = lo + word.count
                while i < hi, b[i] == 0x20 || b[i] == 0x09 { i += 1 }
                if i < hi { lo = i; bearer = true }
            }
            return (lo, hi, trimmedSpace, bearer)
        }
        if range.3 { stripped.append("a leading \"Bearer \"") }
        if range.2 { stripped.append("surrounding whitespace") }
        guard range.2 || range.3 else { return raw }
        return raw.withUnsafeBytes { SecureBytes(copying: UnsafeRawBufferPointer(rebasing: $0[range.0..<range.1])) }
    }

    /// Whether `token` is shaped like a Vision One API key: a JWT, three base64url parts
    /// separated by dots, the first starting `eyJ` (base64 of `{"`). A UUID key id, a URL or a
    /// quoted string pasted by mistake is not.
    public static func looksLikeKey(_ token: borrowing SecureBytes) -> Bool {
        token.withUnsafeBytes { b in
            guard b.count >= 7, b[0] == UInt8(ascii: "e"), b[1] == UInt8(ascii: "y"), b[2] == UInt8(ascii: "J") else { return false }
            var parts = 1, partLength = 0
            for c in b {
                if c == UInt8(ascii: ".") {
                    guard partLength > 0 else { return false }
                    parts += 1; partLength = 0
                    continue
                }
                let base64url = (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c) || (0x30...0x39).contains(c) || c == 0x2D || c == 0x5F
                guard base64url else { return false }
                partLength += 1
            }
            return parts == 3 && partLength > 0
        }
    }

    /// The same rule as a predicate, for plaintext read back from the file: a reader MUST
    /// refuse a version that `add` would have refused (SECURITY.md).
    package static func isWellFormed(_ token: UnsafeRawBufferPointer) -> Bool {
        (1...maxBytes).contains(token.count) && token.allSatisfy { (0x21...0x7E).contains($0) }
    }

    package static func validate(_ token: UnsafeRawBufferPointer) throws(VaultError) {
        guard !token.isEmpty else { throw .invalidToken(reason: "empty input") }
        guard token.count <= maxBytes else { throw .invalidToken(reason: "longer than 16 KiB") }
        let problem: String? = { bytes in
            for (i, b) in bytes.enumerated() {
                if b == 0x0A || b == 0x0D { return "contains a line break at byte \(i + 1) (only one trailing newline is stripped)" }
                if b == 0x20 || b == 0x09 { return "contains whitespace at byte \(i + 1)" }
                if b < 0x20 || b == 0x7F { return "contains a control character at byte \(i + 1)" }
                if b > 0x7E { return "contains a non-ASCII byte at byte \(i + 1)" }
            }
            return nil
        }(token)
        if let problem { throw .invalidToken(reason: problem) }
    }
}

/// Passphrase rules.
public enum Passphrase {
    public static let maxBytes = 4096

    public static func validate(_ p: borrowing SecureBytes) throws(VaultError) {
        guard !p.isEmpty else { throw .passphraseInvalid(reason: "empty") }
        guard p.count <= maxBytes else { throw .passphraseInvalid(reason: "longer than \(maxBytes) bytes") }
    }

    /// Why a new passphrase is weak, or nil: fewer than 12 characters, one character
    /// repeated, only digits, a run of a keyboard row or of consecutive characters, or one of
    /// the most common passwords (with digits and punctuation around it). A guard against
    /// the obvious, not a strength estimate.
    public static func weakness(_ p: borrowing SecureBytes) -> String? {
        p.withUnsafeBytes { b -> String? in
            let lower = b.map { (0x41...0x5A).contains($0) ? $0 | 0x20 : $0 }
            let chars = b.count  // bytes: multi-byte characters only make a passphrase look longer
            if chars < 12 { return "fewer than 12 characters" }
            if Set(lower).count == 1 { return "one character repeated" }
            if lower.allSatisfy({ (0x30...0x39).contains($0) }) { return "only digits" }
            let steps = zip(lower, lower.dropFirst()).map { Int($1) - Int($0) }
            if Set(steps).count == 1, let s = steps.first, abs(s) == 1 { return "a run of consecutive characters" }
            let letters = lower.filter { (0x61...0x7A).contains($0) }
            let core = String(decoding: letters, as: UTF8.self)
            for row in ["qwertyuiop", "asdfghjkl", "zxcvbnm", "azertyuiop", "qwertzuiop"] where row.contains(core) && core.count == letters.count && letters.count * 2 >= chars {
                return "a keyboard row"
            }
            let common = ["password", "passphrase", "letmein", "welcome", "iloveyou", "admin", "secret", "changeme", "trendmicro", "visionone", "vault", "qwerty", "monkey", "dragon"]
            if common.contains(where: { core == $0 || core == $0 + $0 }) { return "a common password with digits or symbols around it" }
            return nil
        }
    }
}
