/// Why an age file does not open. The strings are short lowercase reasons that never carry
/// secret material (nor, for that matter, any byte of the file).
public enum AgeError: Error, Equatable, Sendable {
    /// Not an age v1 file: the armor, the header syntax, an X25519 stanza's own rules, or a
    /// file that ends before the payload nonce.
    case malformed(String)
    /// Well formed, but no X25519 stanza opens with this identity (a wrong recipient).
    case noIdentityMatched
    /// A stanza opened, but the header MAC does not match: the header was modified.
    case headerMACMismatch
    /// The payload fails: a chunk does not authenticate, is truncated, is an empty final
    /// chunk after others, or data follows the final chunk.
    case payloadDamaged(String)
    /// The plaintext would be larger than the caller's limit.
    case tooLarge
}
