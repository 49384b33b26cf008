import ArgumentParser
import Foundation
import VaultCore

/// Words for session lengths, shared by unlock and status.
enum SessionText {
    /// 900 → "15m", 5400 → "1h 30m", 42 → "42s".
    static func length(_ t: TimeInterval) -> String {
        let s = max(0, Int(t.rounded(.up)))
        let (h, m, sec) = (s / 3600, s % 3600 / 60, s % 60)
        return [h > 0 ? "\(h)h" : nil, m > 0 ? "\(m)m" : nil, sec > 0 || s == 0 ? "\(sec)s" : nil]
            .compactMap { $0 }.joined(separator: " ")
    }
}
