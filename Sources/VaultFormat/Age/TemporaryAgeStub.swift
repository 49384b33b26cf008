// TEMPORARY: replaced by the real age implementation (branch i24-age) at merge.
public enum Bech32 {
    public static func encode(hrp: String, data: [UInt8]) -> String { fatalError("stub") }
    public static func decode(_ s: String) -> (hrp: String, data: [UInt8])? { fatalError("stub") }
}
public struct AgeRecipient: Sendable, Hashable {
    public let publicKey: [UInt8]
    public init?(_ text: String) { fatalError("stub") }
    public init(publicKey: [UInt8]) { self.publicKey = publicKey }
    public var text: String { fatalError("stub") }
}
public enum AgeError: Error, Equatable, Sendable {
    case malformed(String)
    case noIdentityMatched
    case headerMACMismatch
    case payloadDamaged(String)
    case tooLarge
}
public enum Age {
    public static func encrypt(_ plaintext: borrowing SecureBytes, to recipients: [AgeRecipient]) -> [UInt8] { fatalError("stub") }
    public static func decrypt(_ file: [UInt8], identity: borrowing SecureBytes, maxPlaintext: Int) throws(AgeError) -> SecureBytes { fatalError("stub") }
}
