import Glibc

/// Shell globs over token names (`vault list PATTERN`), as `pass` and `gopass ls` filter.
public enum NamePattern {
    /// Whether `name` matches the glob `pattern` (fnmatch(3) without flags: `*`, `?`, `[…]`,
    /// `\` escapes; case-sensitive, as names are). A pattern without glob characters matches
    /// only that exact name.
    public static func matches(_ name: String, glob pattern: String) -> Bool {
        fnmatch(pattern, name, 0) == 0
    }

    /// Whether `pattern` holds a glob character; a plain word that matches nothing probably
    /// meant "names containing it".
    public static func hasGlob(_ pattern: String) -> Bool {
        pattern.contains { "*?[".contains($0) }
    }
}
