import Foundation

/// Takes one string member out of a JSON text in place, found by its path from the root
/// (`[0].body.value`: array index 0, then member `body`, then member `value`). The value's bytes
/// are copied into secure memory, then overwritten with `x` in the buffer, so the rest of the
/// document can go through a JSON parser without the secret. Refuses (nil) when the member is
/// missing, not a plain string (a backslash escape: a Vision One key is base64url and dots),
/// when any object in the document has a member name twice (parsers disagree on which of two
/// wins — the value from one `body` and the id from the other), or when any member name is
/// escaped (`"\u0076alue"` is `value` to a parser, not to this scanner).
package enum JSONSecretExtractor {
    package enum Step: Equatable { case index(Int), key(String) }

    package static let createValue: [Step] = [.index(0), .key("body"), .key("value")]
    package static let createStatus: [Step] = [.index(0), .key("status")]

    /// What sits at a path: a string (the range of its contents) or another scalar.
    package enum Found: Equatable { case string(Range<Int>), scalar(Range<Int>) }

    /// One pass over the whole document. nil: the document is refused (unterminated, an
    /// escaped or repeated member name, the path present twice); `.some(nil)`: the path is not there.
    package static func find(_ b: UnsafeBufferPointer<UInt8>, path wanted: [Step]) -> Found?? {
        struct Frame { var object: Bool; var expectKey: Bool; var key: String?; var index: Int; var names: Set<String> }
        var stack: [Frame] = []
        var found: Found?
        var i = 0
        func skipString(_ start: Int) -> Int? {    // the index of the closing quote
            var j = start + 1
            while j < b.count {
                if b[j] == UInt8(ascii: "\\") { j += 2; continue }
                if b[j] == UInt8(ascii: "\"") { return j }
                j += 1
            }
            return nil
        }
        func path() -> [Step] { stack.map { $0.object ? .key($0.key ?? "") : .index($0.index) } }
        func valueStarts() {    // a value begins in the innermost container
            if let top = stack.last, top.object { stack[stack.count - 1].expectKey = false }
        }
        while i < b.count {
            switch b[i] {
            case UInt8(ascii: "{"):
                valueStarts()
                stack.append(Frame(object: true, expectKey: true, key: nil, index: 0, names: [])); i += 1
            case UInt8(ascii: "["):
                valueStarts()
                stack.append(Frame(object: false, expectKey: false, key: nil, index: 0, names: [])); i += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                guard stack.popLast() != nil else { return nil }
                i += 1
            case UInt8(ascii: ","):
                if let top = stack.last {
                    if top.object { stack[stack.count - 1].expectKey = true } else { stack[stack.count - 1].index += 1 }
                }
                i += 1
            case UInt8(ascii: ":"):
                i += 1
            case UInt8(ascii: "\""):
                guard let end = skipString(i) else { return nil }
                if let top = stack.last, top.object, top.expectKey {
                    let raw = Array(b[(i + 1)..<end])
                    guard !raw.contains(UInt8(ascii: "\\")) else { return nil }
                    let name = String(decoding: raw, as: UTF8.self)
                    guard stack[stack.count - 1].names.insert(name).inserted else { return nil }
                    stack[stack.count - 1].key = name
                    stack[stack.count - 1].expectKey = false
                    i = end + 1
                    continue
                }
                valueStarts()
                if path() == wanted {
                    guard found == nil else { return nil }
                    found = .string((i + 1)..<end)
                }
                i = end + 1
            default:
                // A number, true, false or null.
                if let top = stack.last, !(top.object && top.expectKey), b[i] > 0x20 {
                    valueStarts()
                    let start = i
                    while i < b.count, ![UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x0a, 0x0d, 0x09].contains(b[i]) { i += 1 }
                    if path() == wanted {
                        guard found == nil else { return nil }
                        found = .scalar(start..<i)
                    }
                    continue
                }
                i += 1
            }
        }
        guard stack.isEmpty else { return nil }
        return .some(found)
    }

    package static func extract(_ buffer: UnsafeMutableRawBufferPointer, path wanted: [Step]) -> SecureBytes? {
        let b = buffer.bindMemory(to: UInt8.self)
        guard case .string(let range)?? = find(UnsafeBufferPointer(b), path: wanted), !range.isEmpty,
              !b[range].contains(UInt8(ascii: "\\")) else { return nil }
        let secret = SecureBytes(copying: UnsafeRawBufferPointer(rebasing: buffer[range]))
        for k in range { b[k] = UInt8(ascii: "x") }
        return secret
    }

    /// The integer at `path`, read without parsing the document (nil if absent or not one).
    package static func integer(_ buffer: UnsafeMutableRawBufferPointer, path wanted: [Step]) -> Int? {
        let b = buffer.bindMemory(to: UInt8.self)
        guard case .scalar(let range)?? = find(UnsafeBufferPointer(b), path: wanted) else { return nil }
        return Int(String(decoding: b[range], as: UTF8.self))
    }
}
