// libFuzzer harness: the transfer-document parser on hostile bytes (never crashes, ranges stay
// inside the document, nothing verifies under a key that did not sign it) and build/parse
// round trips (every field back, the signature verifies).
import Foundation

let fuzzIdentity = ShareIdentity.generate()
let fuzzOther = ShareIdentity.generate()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTransferDocument(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var doc = SecureBytes(capacity: bytes.count, empty: true)
    bytes.withUnsafeBytes { doc.append($0) }
    if let p = try? TransferDocument.parse(doc) {
        precondition(p.entries.count == p.valueRanges.count && p.entries.count == p.entryRanges.count)
        precondition(p.signedRange.upperBound <= bytes.count)
        for r in p.valueRanges { precondition(r.upperBound <= p.signedRange.upperBound) }
        precondition(!TransferDocument.verify(doc, p, key: fuzzOther.signingPublic), "verified under a key that did not sign")
    }
    // Round trip: a value made of the input's printable bytes, and a description from its text.
    let value = bytes.filter { $0 >= 0x21 && $0 <= 0x7E }.prefix(16384)
    guard !value.isEmpty else { return 0 }
    let text = String(decoding: bytes.prefix(200), as: UTF8.self)
    let description = (try? Validate.text(text, field: "d", max: 1024)) ?? nil
    let entry = TransferEntry(name: "k", region: "eu", baseURL: Region.eu.baseURL, role: nil, description: description,
                              permissions: [], version: 1 + Int(bytes[0]), createdAt: 1_767_225_600, expiresAt: nil,
                              consoleID: nil, consoleName: nil)
    let v = Array(value)
    let built = TransferDocument.build(sender: fuzzIdentity, issued: 1_767_225_600, to: [fuzzOther.recipient], entries: [entry],
                                       valueLength: { _ in v.count }, appendValue: { _, d in v.withUnsafeBytes { d.append($0) } })
    guard let back = try? TransferDocument.parse(built) else { preconditionFailure("a built document does not parse") }
    precondition(back.entries == [entry], "round trip changed a field")
    precondition(TransferDocument.verify(built, back, key: fuzzIdentity.signingPublic), "a built document does not verify")
    return 0
}
