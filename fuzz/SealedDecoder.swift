// libFuzzer harness: the sealed-entry decoder on hostile bytes (never crashes, never opens
// without the key and the right binding) and seal/open round trips.
import Foundation

let fuzzKey: SecureBytes = {
    var k = SecureBytes(capacity: 32, empty: true)
    for i in 0..<32 { k.append(UInt8(i)) }
    return k
}()
let fuzzBinding = try! SealedEntry.binding(vaultID: Array(repeating: 7, count: 16), tokenID: 42, version: 3)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSealed(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // Hostile input: a nonce and ciphertext of arbitrary lengths.
    let split = min(bytes.count, 24)
    let opened = SealedEntry.open(ciphertext: Array(bytes[split...]), nonce: Array(bytes[..<split]), binding: fuzzBinding, key: fuzzKey)
    precondition(opened == nil, "forged entry opened")
    // Round trip: whatever the secret, it comes back, and only with its own binding.
    guard !bytes.isEmpty else { return 0 }
    var secret = SecureBytes(capacity: bytes.count, empty: true)
    bytes.withUnsafeBytes { secret.append($0) }
    let (nonce, ct) = SealedEntry.seal(secret, binding: fuzzBinding, key: fuzzKey)
    guard let back = SealedEntry.open(ciphertext: ct, nonce: nonce, binding: fuzzBinding, key: fuzzKey) else {
        preconditionFailure("round trip failed")
    }
    precondition(back.withUnsafeBytes { Array($0) } == bytes)
    let other = try! SealedEntry.binding(vaultID: Array(repeating: 7, count: 16), tokenID: 42, version: 4)
    precondition(SealedEntry.open(ciphertext: ct, nonce: nonce, binding: other, key: fuzzKey) == nil, "binding not enforced")
    return 0
}
