import Foundation
import VaultFormat

/// A key as Vision One's Administration > API Keys lists it.
public struct ConsoleKey: Sendable, Equatable {
    public var id: String
    public var name: String
    public var status: String
    public var role: String?
    public var description: String?
    public var expires: Date?
    public var lastUsed: Date?
    /// `createdDateTime`, when the console gives it (Trend's mock and SDK do not).
    public var created: Date? = nil
    /// Members of the answer that look like an access restriction (an IP allow-list): no
    /// documented API field carries one, so v1vault can neither read nor copy it.
    public var restrictionFields: [String] = []
    /// The answer says the key was used: a `lastUsedDateTime` that reads as a date after 1970,
    /// or one in a form v1vault does not read (anything but empty, null or a "never" stamp).
    public var usageShown: Bool = false
    public var enabled: Bool { status == "enabled" }

    public init(id: String, name: String, status: String, role: String? = nil, description: String? = nil, expires: Date? = nil,
                lastUsed: Date? = nil, created: Date? = nil, restrictionFields: [String] = []) {
        self.id = id; self.name = name; self.status = status; self.role = role; self.description = description
        self.expires = expires; self.lastUsed = lastUsed; self.created = created; self.restrictionFields = restrictionFields
        self.usageShown = lastUsed != nil
    }
}

/// What one listing returned: the keys v1vault can represent, and how many it could not
/// (a name with control or bidi characters, an odd id: counted, never acted on).
public struct ConsoleListing: Sendable, Equatable {
    public var keys: [ConsoleKey]
    public var skipped: Int
    public init(keys: [ConsoleKey], skipped: Int = 0) { self.keys = keys; self.skipped = skipped }
}

/// What create asks for (one key).
public struct ConsoleCreateRequest: Sendable, Equatable {
    public var name: String
    public var role: String
    /// 1, 3, 6 or 12; 0 for no expiry.
    public var months: Int
    public var description: String?
    public init(name: String, role: String, months: Int, description: String?) {
        self.name = name; self.role = role; self.months = months; self.description = description
    }
}

/// What create returned: the value in secure memory, never anywhere else.
public struct CreatedConsoleKey: ~Copyable {
    public var id: String
    public var value: SecureBytes
    public var expires: Date?
    /// The answer said "never" (or gave no expiry) for the new key.
    public var neverExpires: Bool
}

/// A console call that did not succeed: Vision One's error code and trace id only (never a
/// body, never a token), or what went wrong on the network.
public struct ConsoleFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var call: String
    public var host: String
    public var status: Int?
    public var code: String?
    public var traceID: String?
    public var network: String?
    /// A request was retried after a 429 (or the like): a later definite refusal does not prove
    /// the earlier attempt did nothing.
    public var retried = false

    public init(call: String, host: String, status: Int? = nil, code: String? = nil, traceID: String? = nil, network: String? = nil) {
        self.call = call; self.host = host; self.status = status; self.code = code; self.traceID = traceID; self.network = network
    }

    public var description: String {
        var s = "\(call) at \(host): "
        if let network { s += network } else {
            s += "HTTP \(status ?? 0)"
            if let code { s += " \(code)" }
        }
        if let traceID { s += " (trace id \(traceID))" }
        return s
    }

    /// The console answered with a definite refusal: a 4xx other than 408 (timeout) and 429
    /// (rate limit, retried first): nothing was done.
    public var definite: Bool {
        network == nil && !retried && (status.map { (400...499).contains($0) && $0 != 408 && $0 != 429 } ?? false)
    }

    /// The outcome is unknown (a timeout, a lost connection, a 5xx — a 504 means the service
    /// gave up after 60 s, perhaps after doing the work): a write may or may not have happened.
    public var unknownOutcome: Bool { !definite && status != 429 }

    /// A refusal that says this key cannot be changed through the API (keys moved from the old
    /// User Accounts app cannot be edited; Trend documents no code for it): any definite 4xx
    /// other than the ones with another meaning.
    public var refusesEdit: Bool {
        definite && ![401, 403, 404, 409, 412, 413, 428].contains(status ?? 0)
    }

    /// The manager key itself was refused (401/403): every call of the run will fail the same way.
    public var managerRefused: Bool { network == nil && (status == 401 || status == 403) }

    public var rateLimited: Bool { status == 429 }
}

/// Vision One's API-keys API (`/v3.0/iam/apiKeys`, shared/visionone-api.md) as renewal and
/// sync use it, called with a manager key. `HTTPConsoleClient` is the real one; tests use an
/// in-memory console. Every call is bounded; implementations retry what is safe to retry.
public protocol ConsoleClient: AnyObject, Sendable {
    var baseURL: String { get }
    /// For messages: the base URL's host.
    var host: String { get }
    /// Every key in the organisation (all pages), optionally only those named exactly `name`.
    func list(name: String?) throws(ConsoleFailure) -> ConsoleListing
    /// One key and its ETag.
    func get(_ id: String) throws(ConsoleFailure) -> (key: ConsoleKey, etag: String)
    /// PATCH with If-Match. Returns false on 412 (the ETag went stale).
    func update(_ id: String, etag: String, fields: [String: String]) throws(ConsoleFailure) -> Bool
    /// Deletes keys; per id whether it is gone (204, or 404: already gone).
    func delete(_ ids: [String]) throws(ConsoleFailure) -> [String: Bool]
    /// Creates one key; its value comes back in secure memory.
    func create(_ request: ConsoleCreateRequest) throws(ConsoleFailure) -> CreatedConsoleKey
    /// Whether `token` works (the connectivity endpoint).
    func connectivity(_ token: UnsafeRawBufferPointer) -> Result<Void, ConsoleFailure>
    /// Whether `value` is the manager key this client calls with (constant time).
    func isManagerValue(_ value: UnsafeRawBufferPointer) -> Bool
}

extension ConsoleClient {
    /// Sets a key's status: GET for the ETag, PATCH with If-Match, once more if the ETag went
    /// stale in between. Returns the key as it was before (nil when nothing needed changing).
    @discardableResult
    public func setStatus(_ id: String, enabled: Bool) throws(ConsoleFailure) -> ConsoleKey? {
        for _ in 0..<2 {
            let (key, etag) = try get(id)
            if key.enabled == enabled { return nil }
            if try update(id, etag: etag, fields: ["status": enabled ? "enabled" : "disabled"]) { return key }
        }
        throw ConsoleFailure(call: "update", host: host, status: 412, code: "ETag kept changing")
    }

    public func list() throws(ConsoleFailure) -> ConsoleListing { try list(name: nil) }
}
