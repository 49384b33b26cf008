// libFuzzer harness: the import parsers on hostile input. Never crash; every dotenv token is a
// contiguous slice of the input on the line it names; json entries keep their order.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImport(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    func input() -> SecureBytes {
        var b = SecureBytes(capacity: size, empty: true)
        bytes.withUnsafeBytes { b.append($0) }
        return b
    }
    if let entries = try? ImportParser.dotenv(input(), metadata: TokenMetadata(), expires: nil) {
        var lastLine = 0
        for e in entries {
            precondition(e.line > lastLine, "lines must increase")
            lastLine = e.line
            let token = e.token.withUnsafeBytes { Array($0) }
            let name = Array(e.name.utf8)
            precondition(!name.contains(UInt8(ascii: "=")) && !name.contains(0x0A), "name crossed a separator")
            precondition(!token.contains(0x0A), "token crossed a line")
            precondition(token.isEmpty || bytes.indices.contains { i in bytes[i...].starts(with: token) }, "token is not from the input")
        }
    }
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    if let entries = try? ImportParser.json(input(), defaults: TokenMetadata(), expires: nil, now: now) {
        precondition(entries.enumerated().allSatisfy { $0.element.line == $0.offset + 1 }, "json entries out of order")
    }
    return 0
}
