import Foundation

/// The one way v1vault writes a command for a person to paste into a POSIX shell (sh, bash,
/// zsh, dash): every word that is not plainly safe goes in single quotes, a quote inside as
/// `'\''`. A console key named `x'$(touch PWNED)'` then arrives as that one literal argument.
public enum Shell {
    /// Characters that never need quoting (the same set as Python's `shlex.quote`).
    package static func isSafe(_ s: String) -> Bool {
        !s.isEmpty && s.unicodeScalars.allSatisfy { c in
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || "@%+=:,./-_".unicodeScalars.contains(c)
        }
    }

    /// One word, quoted when it needs to be.
    public static func quote(_ s: String) -> String {
        isSafe(s) ? s : "'" + s.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
    }

    /// A whole command line, each word quoted as needed, between backquotes as v1vault's
    /// messages show commands.
    public static func command(_ words: String...) -> String {
        "`" + words.map(quote).joined(separator: " ") + "`"
    }

    /// The same for a word list built at run time.
    public static func command(_ words: [String]) -> String {
        "`" + words.map(quote).joined(separator: " ") + "`"
    }
}
