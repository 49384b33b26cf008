import CSodium
import Synchronization

/// See `SecureBytes.allocationCounter`.
package final class AllocationCounter: Sendable {
    package let count = Atomic<Int>(0)
}

/// A fixed-size buffer of secret bytes in libsodium-guarded memory (`sodium_malloc`: locked
/// against swapping, surrounded by guard pages, excluded from core dumps where supported),
/// zeroed and freed on deinit. Non-copyable, so a secret has exactly one owner and is never
/// silently duplicated into ordinary Swift heap memory.
public struct SecureBytes: ~Copyable {
    private let base: UnsafeMutableRawPointer
    /// Number of meaningful bytes (≤ capacity).
    public private(set) var count: Int
    /// Allocated size.
    public let capacity: Int

    /// Counts guarded allocations made by the current task when set (each is its own mapping,
    /// so bulk paths must not make one per token; tests check that).
    @TaskLocal package static var allocationCounter: AllocationCounter?

    /// Allocates `capacity` zeroed bytes; `count` starts at `capacity` unless `empty` is true.
    public init(capacity: Int, empty: Bool = false) {
        SecureBytes.allocationCounter?.count.add(1, ordering: .relaxed)
        _ = Sodium.ready
        precondition(capacity >= 0)
        guard let p = sodium_malloc(max(capacity, 1)) else {
            fatalError("sodium_malloc failed: out of memory or mlock limit reached")
        }
        sodium_memzero(p, max(capacity, 1))
        base = p
        self.capacity = capacity
        count = empty ? 0 : capacity
    }

    /// Copies `bytes` into a new secure buffer. Use only for data that is not itself secret
    /// or whose source buffer the caller zeroes.
    public init(copying bytes: UnsafeRawBufferPointer) {
        self.init(capacity: bytes.count)
        if bytes.count > 0 { base.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
    }

    deinit {
        sodium_free(base)  // zeroes the whole allocation before freeing
    }

    /// Read access to the meaningful bytes, valid only inside `body`.
    public func withUnsafeBytes<R: ~Copyable, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Write access to the whole capacity, valid only inside `body`.
    public mutating func withUnsafeMutableBytes<R: ~Copyable, E: Error>(_ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeMutableRawBufferPointer(start: base, count: capacity))
    }

    /// Appends bytes; the caller sized the buffer so this never grows it.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        precondition(count + bytes.count <= capacity, "SecureBytes overflow")
        if bytes.count > 0 { (base + count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
        count += bytes.count
    }

    public mutating func append(_ byte: UInt8) {
        precondition(count < capacity, "SecureBytes overflow")
        base.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    /// Appends the UTF-8 of a non-secret string (variable names, quoting).
    public mutating func append(_ string: String) {
        var s = string
        s.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    public mutating func append(_ other: borrowing SecureBytes) {
        other.withUnsafeBytes { append($0) }
    }

    /// Marks the first `n` bytes as meaningful after writing them through `withUnsafeMutableBytes`.
    package mutating func setCount(_ n: Int) {
        precondition(n >= 0 && n <= capacity)
        count = n
    }

    /// Drops bytes from the end, zeroing them.
    public mutating func removeLast(_ n: Int = 1) {
        precondition(n <= count)
        sodium_memzero(base + (count - n), n)
        count -= n
    }

    /// Constant-time equality of contents.
    public func constantTimeEquals(_ other: borrowing SecureBytes) -> Bool {
        withUnsafeBytes { a in other.withUnsafeBytes { b in Sodium.constantTimeEqual(a, b) } }
    }

    public var isEmpty: Bool { count == 0 }

    /// The byte at `index` (no bounds beyond count).
    public subscript(index: Int) -> UInt8 {
        precondition(index >= 0 && index < count)
        return base.load(fromByteOffset: index, as: UInt8.self)
    }
}
