// libFuzzer harness: the create answer's secret extraction (hostile network input). Compiled by
// scripts/fuzz with the VaultFormat target (Package.swift) (same module, so internal API is reachable).
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCreateAnswers(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let original = bytes
    let found: (secret: [UInt8]?, status: Int?) = bytes.withUnsafeMutableBytes { buffer in
        let status = JSONSecretExtractor.integer(buffer, path: JSONSecretExtractor.createStatus)
        guard let secret = JSONSecretExtractor.extract(buffer, path: JSONSecretExtractor.createValue) else { return (nil, status) }
        return (secret.withUnsafeBytes { Array($0) }, status)
    }
    if let secret = found.secret {
        // A plain, non-empty string, taken out: the buffer holds x's where it was, the rest unchanged.
        precondition(!secret.isEmpty && !secret.contains(UInt8(ascii: "\\")) && !secret.contains(UInt8(ascii: "\"")))
        precondition(bytes.count == original.count)
        let changed = zip(bytes, original).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset)
        precondition(changed.allSatisfy { bytes[$0] == UInt8(ascii: "x") })
        precondition(changed.count == secret.filter { $0 != UInt8(ascii: "x") }.count, "the secret's bytes are blanked, nothing else")
    } else {
        precondition(bytes == original, "a refused answer is left as it was")
    }
    _ = found.status
    return 0
}
