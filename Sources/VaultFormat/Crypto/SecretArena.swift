/// Many secrets in one guarded allocation. `sodium_malloc` maps a region with guard pages per
/// call, so one buffer per token stops working somewhere below 100,000 live tokens (the
/// kernel's map-count limit); `export --all`, `exec` and `import` keep their secrets here.
public final class SecretArena {
    private var storage: SecureBytes

    public init(capacity: Int) { storage = SecureBytes(capacity: capacity, empty: true) }

    /// Takes over an existing buffer (e.g. an import file read into secure memory).
    public init(adopting bytes: consuming SecureBytes) { storage = bytes }

    /// Copies bytes in and returns a view of them.
    public func store(_ bytes: UnsafeRawBufferPointer) -> SecretView {
        let start = storage.count
        storage.append(bytes)
        return SecretView(arena: self, range: start..<storage.count)
    }

    /// A view of bytes already in the arena.
    public func view(_ range: Range<Int>) -> SecretView {
        precondition(range.lowerBound >= 0 && range.upperBound <= storage.count)
        return SecretView(arena: self, range: range)
    }

    package func withBytes<R>(_ range: Range<Int>, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try storage.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[range])) }
    }
}

/// A secret inside a `SecretArena`; keeps the arena alive. Same read API as `SecureBytes`.
public struct SecretView {
    package let arena: SecretArena
    package let range: Range<Int>

    public var count: Int { range.count }
    public var isEmpty: Bool { range.isEmpty }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try arena.withBytes(range, body)
    }

    public subscript(index: Int) -> UInt8 {
        precondition(index >= 0 && index < count)
        return arena.withBytes(range) { $0[index] }
    }

    /// A copy in its own secure buffer (for a single secret, e.g. a prompt result).
    public static func single(_ bytes: borrowing SecureBytes) -> SecretView {
        let arena = SecretArena(capacity: bytes.count)
        return bytes.withUnsafeBytes { arena.store($0) }
    }
}

extension SecureBytes {
    public mutating func append(_ view: SecretView) {
        view.withUnsafeBytes { append($0) }
    }

    /// Empties the buffer (zeroing what it held) so it can be reused as scratch space.
    public mutating func reset() { removeLast(count) }
}
