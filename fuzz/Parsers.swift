// libFuzzer harness: every parser of user-supplied text. Compiled by scripts/fuzz together with
// the VaultFormat target (Package.swift) (same module, so internal API is reachable).
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzParsers(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    // Durations: accepted ones are N + unit, bounded, and move time forward.
    if let d = try? DurationSpec.parse(text) {
        precondition(d.amount >= 0 && d.amount <= 999_999)
        precondition(d.added(to: now) >= now)
    }
    // Expiry: nil only for "never"; dates are in the future.
    do {
        let e = try ExpirySpec.parse(text, now: now)
        if let e { precondition(e > now) } else { precondition(text.lowercased() == "never") }
    } catch {}
    // Dates round-trip through their printed form.
    if let d = Timestamp.parseDate(text) {
        precondition(text.count == 10 ? Timestamp.day(d) == text : Timestamp.iso(d) == text, "date round trip: \(text)")
    }
    // Names: accepted ones match [A-Za-z0-9][A-Za-z0-9._-]{0,63}.
    if (try? Validate.tokenName(text)) != nil {
        let b = Array(text.utf8)
        precondition(!b.isEmpty && b.count <= 64)
        precondition(b.allSatisfy { $0 < 0x80 && (Character(UnicodeScalar($0)).isLetter || Character(UnicodeScalar($0)).isNumber || "._-".utf8.contains($0)) })
    }
    // Regions and base URLs.
    if let r = try? Region.parse(text) { precondition(r.baseURL.hasPrefix("https://api.")) }
    if let u = try? Validate.baseURL(text) {
        precondition(u.hasPrefix("https://") || u.hasPrefix("http://") && (u.contains("127.") || u.contains("localhost") || u.contains("[::1]")))
        precondition(!u.contains("@") && !u.contains("?") && !u.contains("#"))
    }
    // Sizes round-trip.
    if let n = try? ByteSize.parse(text), n > 0 {
        precondition((try? ByteSize.parse(ByteSize.format(n))) == n)
    }
    // Audit heads round-trip.
    if let h = try? AuditHead.parse(text) {
        precondition((try? AuditHead.parse(h.description)) == h)
    }
    // Error text never contains a raw control character from the input.
    let message = VaultError.tokenNotFound(name: text).description
    precondition(!message.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f })
    return 0
}
