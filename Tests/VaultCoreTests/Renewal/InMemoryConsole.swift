import Foundation
@testable import VaultCore
@testable import VaultFormat
@testable import VisionOne

/// Vision One's API-keys API in memory, for millisecond tests of renewal and sync: keys with
/// values, ETags, an injectable clock, and faults by call. It models the readings of
/// docs/FAKE-VISIONONE.md that matter to the logic above the HTTP client (the HTTP client's
/// own parsing, retries and backoff are tested against scripted answers and Trend's mock).
final class InMemoryConsole: ConsoleClient, @unchecked Sendable {
    enum Call: String, CaseIterable, Sendable { case list, get, update, delete, create, connectivity }

    /// What goes wrong on a call.
    enum Fault: String, CaseIterable, Sendable, CustomStringConvertible {
        /// No answer; nothing was done (a timeout before the service got it).
        case timeout
        /// Done, then the answer was lost (a timeout or dropped connection after the work).
        case lostAnswer = "lost-answer"
        /// A definite refusal: 400 BadRequest, nothing done.
        case badRequest = "400"
        /// 503: nothing done.
        case unavailable = "503"
        /// Done, then 504: the service gave up waiting after 60 s.
        case gatewayTimeout = "504-after"
        /// A 207 whose element failed (create, delete): 400 inside, nothing done.
        case failedElement = "207-failed-element"
        /// 429 without Retry-After until the client gave up (nothing done; retried first).
        case rateLimited = "429"
        /// The ETag went stale once (update answers 412 once).
        case staleETag = "stale-etag"
        /// The key cannot be edited (moved from User Accounts): update refuses with 400.
        case uneditable
        var description: String { rawValue }
    }

    struct Key {
        var id: String
        var name: String
        var value: String
        var role: String
        var status = "enabled"
        var description: String?
        var expires: Date?
        var lastUsed: Date?
        var created: Date
        var etag = UUID().uuidString
        var deleted = false
        var editable = true
        var restrictionFields: [String] = []
    }

    let baseURL = "https://api.example.invalid"
    let host = "api.example.invalid"
    let clock: TestClock
    private let lock = NSLock()
    private(set) var keys: [String: Key] = [:]
    private var order: [String] = []
    var managerValue: String
    /// Roles new keys cannot have (Trend: Master Administrator since 2025-10-27).
    var forbiddenRoles: Set<String> = ["Master Administrator"]
    /// How months count: calendar (default) or 30-day.
    var thirtyDayMonths = false
    /// lastUsedDateTime never moves (it is lazy; no source says when it moves).
    var lazyLastUsed = false
    /// Whether createdDateTime is shown (Trend's model has no such member).
    var showsCreated = false
    private var faults: [(call: Call, fault: Fault, nth: Int, seen: Int, left: Int)] = []
    private(set) var log: [Call] = []
    /// Called before a create does anything (a test takes a backup of the vault there).
    var onCreate: (() -> Void)?

    init(clock: TestClock, managerValue: String = "manager-" + UUID().uuidString) {
        self.clock = clock
        self.managerValue = managerValue
    }

    // MARK: Test control

    @discardableResult
    func seed(name: String, role: String = "SIEM", value: String? = nil, expires: Date?, description: String? = nil, status: String = "enabled",
              editable: Bool = true, lastUsed: Date? = nil, restrictionFields: [String] = []) -> Key {
        lock.withLock {
            var k = Key(id: UUID().uuidString.lowercased(), name: name, value: value ?? Self.newValue(), role: role, expires: expires,
                        created: clock.now)
            k.status = status; k.editable = editable; k.description = description; k.lastUsed = lastUsed; k.restrictionFields = restrictionFields
            keys[k.id] = k
            order.append(k.id)
            return k
        }
    }

    /// `fault` fires on the `nth` matching call from now, `times` times.
    func inject(_ fault: Fault, on call: Call, nth: Int = 1, times: Int = 1) {
        lock.withLock { faults.append((call, fault, nth, 0, times)) }
    }

    func clearFaults() { lock.withLock { faults = [] } }

    func key(named name: String) -> Key? { lock.withLock { keys.values.first { $0.name == name && !$0.deleted } } }
    func key(_ id: String) -> Key? { lock.withLock { keys[id] } }
    var live: [Key] { lock.withLock { order.compactMap { keys[$0] }.filter { !$0.deleted } } }
    func touch(_ id: String, lastUsed: Date?) { lock.withLock { keys[id]?.lastUsed = lastUsed } }
    func setStatus(_ id: String, _ status: String) { lock.withLock { keys[id]?.status = status; keys[id]?.etag = UUID().uuidString } }
    func remove(_ id: String) { lock.withLock { keys[id]?.deleted = true } }

    static func newValue() -> String { "eyJ" + UUID().uuidString.replacingOccurrences(of: "-", with: "") + "." + UUID().uuidString.replacingOccurrences(of: "-", with: "") + ".sig" }

    // MARK: Faults

    private func fault(_ call: Call) -> Fault? {
        lock.withLock {
            log.append(call)
            var fired: Fault?
            for i in faults.indices where faults[i].call == call {
                faults[i].seen += 1
                if fired == nil, faults[i].seen >= faults[i].nth, faults[i].left > 0 {
                    faults[i].left -= 1
                    fired = faults[i].fault
                }
            }
            faults.removeAll { $0.left <= 0 }
            return fired
        }
    }

    private func failure(_ call: Call, _ fault: Fault) -> ConsoleFailure {
        var f: ConsoleFailure
        switch fault {
        case .timeout, .lostAnswer: f = ConsoleFailure(call: call.rawValue, host: host, network: "timed out")
        case .badRequest, .failedElement, .uneditable: f = ConsoleFailure(call: call.rawValue, host: host, status: 400, code: "BadRequest")
        case .unavailable: f = ConsoleFailure(call: call.rawValue, host: host, status: 503, code: "ServiceUnavailable")
        case .gatewayTimeout: f = ConsoleFailure(call: call.rawValue, host: host, status: 504, code: "GatewayTimeout")
        case .rateLimited:
            f = ConsoleFailure(call: call.rawValue, host: host, status: 429, code: "TooManyRequests")
            f.retried = true
        case .staleETag: f = ConsoleFailure(call: call.rawValue, host: host, status: 412, code: "ConditionNotMet")
        }
        return f
    }

    /// Runs `work` unless the fault says it is not done; throws what the fault says after.
    private func perform<R>(_ call: Call, faulted: Bool = true, _ work: () throws(ConsoleFailure) -> R) throws(ConsoleFailure) -> R {
        guard faulted, let f = fault(call) else { return try work() }
        switch f {
        case .lostAnswer, .gatewayTimeout:
            _ = try? work()
            throw failure(call, f)
        case .staleETag, .uneditable:
            return try work()    // handled by update itself
        default:
            throw failure(call, f)
        }
    }

    private func publicKey(_ k: Key) -> ConsoleKey {
        ConsoleKey(id: k.id, name: k.name, status: k.status, role: k.role, description: k.description, expires: k.expires, lastUsed: k.lastUsed,
                   created: showsCreated ? k.created : nil, restrictionFields: k.restrictionFields)
    }

    private func authorize() throws(ConsoleFailure) {
        let ok = lock.withLock { keys.values.contains { $0.value == managerValue && !$0.deleted && $0.status == "enabled" } }
        if !ok { throw ConsoleFailure(call: "auth", host: host, status: 401, code: "InvalidCredentials") }
        lock.withLock {
            if !lazyLastUsed, let id = keys.values.first(where: { $0.value == managerValue })?.id { keys[id]?.lastUsed = clock.now }
        }
    }

    // MARK: ConsoleClient

    func list(name: String?) throws(ConsoleFailure) -> ConsoleListing {
        try authorize()
        return try perform(.list) { () throws(ConsoleFailure) in
            lock.withLock { ConsoleListing(keys: order.compactMap { keys[$0] }.filter { !$0.deleted && (name == nil || $0.name == name) }.map(publicKey)) }
        }
    }

    func get(_ id: String) throws(ConsoleFailure) -> (key: ConsoleKey, etag: String) {
        try authorize()
        return try perform(.get) { () throws(ConsoleFailure) in
            guard let k = lock.withLock({ keys[id] }), !k.deleted else { throw ConsoleFailure(call: "get", host: host, status: 404, code: "NotFound") }
            return (publicKey(k), k.etag)
        }
    }

    func update(_ id: String, etag: String, fields: [String: String]) throws(ConsoleFailure) -> Bool {
        try authorize()
        let f = fault(.update)
        if let f, f != .staleETag, f != .uneditable, f != .lostAnswer, f != .gatewayTimeout { throw failure(.update, f) }
        guard var k = lock.withLock({ keys[id] }), !k.deleted else { throw ConsoleFailure(call: "update", host: host, status: 404, code: "NotFound") }
        if f == .uneditable || !k.editable { throw failure(.update, .uneditable) }
        if f == .staleETag || etag != k.etag {
            lock.withLock { keys[id]?.etag = UUID().uuidString }
            return false
        }
        if let s = fields["status"] { k.status = s }
        if let r = fields["role"] { k.role = r }
        if let n = fields["name"] { k.name = n }
        k.etag = UUID().uuidString
        lock.withLock { keys[id] = k }
        if let f { throw failure(.update, f) }
        return true
    }

    func delete(_ ids: [String]) throws(ConsoleFailure) -> [String: Bool] {
        try authorize()
        if let f = fault(.delete) {
            if f == .failedElement { return Dictionary(uniqueKeysWithValues: ids.map { ($0, false) }) }
            if f == .lostAnswer || f == .gatewayTimeout { lock.withLock { for id in ids { keys[id]?.deleted = true } } }
            throw failure(.delete, f)
        }
        return try perform(.delete, faulted: false) { () throws(ConsoleFailure) in
            var out: [String: Bool] = [:]
            lock.withLock {
                for id in ids {
                    if keys[id] != nil, keys[id]!.deleted == false { keys[id]!.deleted = true }
                    out[id] = true
                }
            }
            return out
        }
    }

    func create(_ request: ConsoleCreateRequest) throws(ConsoleFailure) -> CreatedConsoleKey {
        try authorize()
        onCreate?()
        let f = fault(.create)
        if let f, f == .timeout || f == .badRequest || f == .unavailable || f == .failedElement || f == .rateLimited { throw failure(.create, f) }
        if forbiddenRoles.contains(request.role) { throw ConsoleFailure(call: "create", host: host, status: 400, code: "BadRequest") }
        if key(named: request.name) != nil { throw ConsoleFailure(call: "create", host: host, status: 400, code: "BadRequest") }
        let now = clock.now
        var expires: Date?
        if request.months > 0 {
            if thirtyDayMonths { expires = now.addingTimeInterval(Double(request.months) * 30 * 86400) } else {
                var c = Calendar(identifier: .gregorian); c.timeZone = TimeZone(identifier: "UTC")!
                expires = c.date(byAdding: .month, value: request.months, to: now)
            }
        }
        var k = Key(id: UUID().uuidString.lowercased(), name: request.name, value: Self.newValue(), role: request.role, expires: expires, created: now)
        k.description = request.description
        lock.withLock { keys[k.id] = k; order.append(k.id) }
        if let f { throw failure(.create, f) }    // done, answer lost
        return CreatedConsoleKey(id: k.id, value: secure(k.value), expires: expires, neverExpires: expires == nil)
    }

    func connectivity(_ token: UnsafeRawBufferPointer) -> Result<Void, ConsoleFailure> {
        if let f = fault(.connectivity) { return .failure(failure(.connectivity, f)) }
        let value = String(decoding: token, as: UTF8.self)
        let now = clock.now
        let ok: Bool = lock.withLock {
            guard let id = keys.values.first(where: { $0.value == value })?.id, var k = keys[id] else { return false }
            guard !k.deleted, k.status == "enabled", k.expires.map({ $0 > now }) ?? true else { return false }
            if !lazyLastUsed { k.lastUsed = now }
            keys[id] = k
            return true
        }
        return ok ? .success(()) : .failure(ConsoleFailure(call: "connectivity", host: host, status: 401, code: "InvalidCredentials"))
    }

    func isManagerValue(_ value: UnsafeRawBufferPointer) -> Bool { String(decoding: value, as: UTF8.self) == managerValue }

    /// Whether `value` works right now (enabled, unexpired, undeleted), without touching it.
    func works(_ value: String) -> Bool {
        let now = clock.now
        return lock.withLock { keys.values.contains { $0.value == value && !$0.deleted && $0.status == "enabled" && ($0.expires.map { $0 > now } ?? true) } }
    }
}
