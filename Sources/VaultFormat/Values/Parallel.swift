import Foundation

/// A bounded pool for blocking work (network calls): at most `width` items at once, results in
/// input order. `renew`'s jobs and `check`'s requests go through it.
package enum Parallel {
    package static func map<T, R>(_ items: [T], width: Int, _ body: @escaping (T) -> R) -> [R] {
        let box = ParallelBox(items, body)
        let slots = DispatchSemaphore(value: max(1, width))
        let group = DispatchGroup()
        for i in items.indices {
            slots.wait()
            group.enter()
            DispatchQueue.global().async {
                box.run(i)
                slots.signal()
                group.leave()
            }
        }
        group.wait()
        return box.results.map { $0! }
    }
}

/// The items, the work and the results of one `Parallel.map`, shared with its threads; the
/// results array is only touched under the lock.
private final class ParallelBox<T, R>: @unchecked Sendable {
    package let lock = NSLock()
    private(set) var results: [R?]
    package let items: [T]
    package let body: (T) -> R
    package init(_ items: [T], _ body: @escaping (T) -> R) { self.items = items; self.body = body; results = Array(repeating: nil, count: items.count) }
    package func run(_ i: Int) {
        let r = body(items[i])
        lock.withLock { results[i] = r }
    }
}
