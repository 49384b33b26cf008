/// "Did you mean": the closest candidate to a mistyped word.
public enum Suggest {
    /// The candidate nearest to `word` by edit distance (insertions, deletions, substitutions
    /// and swaps of neighbours), if it is near enough to be a typo: at most 1 edit for words of
    /// up to 4 characters, 2 up to 8, 3 beyond. Ties go to the first candidate. A candidate
    /// that differs from `word` only in case (`SIEM` for `siem`) wins outright: names are
    /// case-sensitive, so it is not the same name, but it is the one meant.
    public static func closest(to word: String, in candidates: [String]) -> String? {
        if let sameButCase = candidates.first(where: { $0 != word && $0.lowercased() == word.lowercased() }) { return sameButCase }
        let w = Array(word.lowercased())
        let limit = w.count <= 4 ? 1 : w.count <= 8 ? 2 : 3
        var best: (String, Int)?
        for c in candidates {
            let d = distance(w, Array(c.lowercased()))
            if d > 0, d <= limit, d < (best?.1 ?? .max) { best = (c, d) }
        }
        return best?.0
    }

    /// Optimal-string-alignment distance.
    static func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
            }
        }
        return d[a.count][b.count]
    }
}
