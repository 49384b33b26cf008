// libFuzzer harness: the age v1 reader (issue #24) on hostile bytes: the strict header parser,
// the armor and the whole decryption with a fixed identity; and encrypt/decrypt round trips.
// Compiled by scripts/fuzz together with the VaultFormat target (same module).
import Foundation

/// The fixed identity the seeds in fuzz/seeds/AgeHeader are encrypted to: bytes 1…32,
/// AGE-SECRET-KEY-1QYPQXPQ9QCRSSZG2PVXQ6RS0ZQG3YYC5Z5TPWXQERGD3C8G7RUSQGPQYEE, recipient
/// age1q73he0q5yzfu3d64msd3p6rvksnrwjk3d2598mgtmlqt9wrdr37q2vrn72 (the seeds were made with `age -r` to it).
let ageIdentity: SecureBytes = {
    var k = SecureBytes(capacity: 32, empty: true)
    for i in 1...32 { k.append(UInt8(i)) }
    return k
}()
let ageRecipient = AgeRecipient(publicKey: Age.publicKey(forSecret: ageIdentity))

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAgeHeader(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // The header: whatever parses is internally consistent.
    if let h = try? Age.parseHeader(bytes) {
        precondition(!h.stanzas.isEmpty && h.mac.count == 32)
        precondition(h.macInputLength + 44 + 1 == h.payloadOffset && h.payloadOffset <= bytes.count)
        precondition(bytes[h.macInputLength - 3..<h.macInputLength].elementsEqual("---".utf8))
        for s in h.stanzas { precondition(!s.type.isEmpty && s.args.allSatisfy { !$0.isEmpty && !$0.contains(" ") }) }
    }
    // The whole file: a plaintext only within the limit, never larger than the input.
    do {
        let p = try Age.decrypt(bytes, identity: ageIdentity, maxPlaintext: 1 << 20)
        precondition(p.count <= bytes.count)
    } catch {}
    // Round trip of the input as a plaintext.
    if size <= 4096 {
        var plain = SecureBytes(capacity: size, empty: true)
        bytes.withUnsafeBytes { plain.append($0) }
        let file = Age.encrypt(plain, to: [ageRecipient])
        guard let back = try? Age.decrypt(file, identity: ageIdentity, maxPlaintext: size) else { preconditionFailure("round trip failed") }
        precondition(back.withUnsafeBytes { Array($0) } == bytes)
    }
    return 0
}
