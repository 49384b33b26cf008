import Foundation

/// The head of the audit chain: the last sealed row's sequence number and MAC.
public struct AuditHead: Equatable, Sendable, CustomStringConvertible {
    public var seq: Int64
    public var mac: [UInt8]

    public init(seq: Int64, mac: [UInt8]) { self.seq = seq; self.mac = mac }

    /// `seq:hex(mac)`, e.g. `42:9f2c…` (64 hex digits).
    public var description: String { "\(seq):" + mac.map { String(format: "%02x", $0) }.joined() }

    public static func parse(_ text: String) throws(VaultError) -> AuditHead {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        let hint = "a head looks like 42:<64 hex digits>, as printed by `vault audit head`"
        guard parts.count == 2, let seq = Int64(parts[0]), seq >= 0, parts[1].utf8.count == 64 else {
            throw .invalidInput(reason: "invalid audit head \(displayName(text))", hint: hint)
        }
        var mac: [UInt8] = []
        var it = parts[1].makeIterator()
        while let a = it.next(), let b = it.next() {
            guard let byte = UInt8(String([a, b]), radix: 16) else {
                throw .invalidInput(reason: "invalid audit head \(displayName(text))", hint: hint)
            }
            mac.append(byte)
        }
        return AuditHead(seq: seq, mac: mac)
    }
}
