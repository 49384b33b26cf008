import Foundation
import VaultFormat
import VaultStorage

/// What `vault edit` changes; nil leaves a field as it is.
public struct TokenEdit: Sendable, Equatable {
    /// A region, or a custom base URL (`.custom`): replaces both region and base URL.
    public enum Endpoint: Sendable, Equatable { case region(Region), custom(String) }
    public var endpoint: Endpoint?
    public var role: String??
    public var description: String??
    public var permissions: [String]?
    /// The current version's expiry (`.some(nil)`: never).
    public var expires: Date??
    /// The current version's console key id and name (`.some(nil)`: unlink / clear).
    public var consoleID: String??
    public var consoleName: String??
    /// The expiry warning window in days (`.some(nil)`: back to the default rule).
    public var warnDays: Int??

    public init(endpoint: Endpoint? = nil, role: String?? = nil, description: String?? = nil, permissions: [String]? = nil, expires: Date?? = nil,
                consoleID: String?? = nil, consoleName: String?? = nil, warnDays: Int?? = nil) {
        self.endpoint = endpoint; self.role = role; self.description = description; self.permissions = permissions; self.expires = expires
        self.consoleID = consoleID; self.consoleName = consoleName; self.warnDays = warnDays
    }

    public var isEmpty: Bool {
        endpoint == nil && role == nil && description == nil && permissions == nil && expires == nil && consoleID == nil && consoleName == nil && warnDays == nil
    }

    /// Throws unless there is something to change (the CLI calls it before the passphrase).
    public func checkNotEmpty() throws(VaultError) {
        guard !isEmpty else {
            throw .invalidInput(reason: "nothing to change",
                                hint: "give --region, --base-url, --role, --description, --permission, --clear-permissions, --expires, --console-id, --console-name or --warn-days")
        }
    }
}

extension UnlockedVault {
    /// Changes a token's metadata and/or its current version's expiry — nothing else: no
    /// secret is read or written. The metadata MAC and the state MAC are sealed again, under
    /// this command's audit row (`edit`, naming the fields it changed).
    public func edit(_ name: String, _ change: TokenEdit) throws(VaultError) {
        try change.checkNotEmpty()
        if let p = change.permissions { _ = try p.map { v throws(VaultError) in try Validate.text(v, field: "permission") } }
        try Self.checkLink(ConsoleLink(id: change.consoleID ?? nil, name: change.consoleName ?? nil))
        if case .some(.some(let d)) = change.warnDays, !(0...3650).contains(d) { throw .invalidInput(reason: "--warn-days must be between 0 and 3650", hint: "or `default`") }
        try perform("edit", subjects: [AuditSubject(name: name)]) { w in
            let t = try resolve(w.db, name)
            var record = t.record
            var fields: [String] = []
            switch change.endpoint {
            case .region(let r)?: record.region = r.rawValue; record.baseUrl = r.baseURL; fields.append("region")
            case .custom(let url)?: record.region = nil; record.baseUrl = try Validate.baseURL(url); fields.append("base_url")
            case nil: break
            }
            if let role = change.role { record.role = try role.map { v throws(VaultError) in try Validate.text(v, field: "role") }; fields.append("role") }
            if let d = change.description {
                record.description = try d.map { v throws(VaultError) in try Validate.text(v, field: "description", max: 1024) }; fields.append("description")
            }
            if let p = change.permissions { record.permissions = JSONText.array(p); fields.append("permissions") }
            if let d = change.warnDays { record.warnDays = d; fields.append("warn_days") }
            try record.updateMetadata(w.db)
            try sealMetadata(w.db, &record)
            if let e = change.expires {
                if let e, e <= now { throw VaultError.invalidInput(reason: "expiry \(Timestamp.iso(e)) is not in the future", hint: nil) }
                try TokenVersionRecord.updateExpiry(w.db, tokenID: record.id!, version: t.current.version, expiresAt: e.map(Timestamp.seconds))
                fields.append("expires")
            }
            if change.consoleID != nil || change.consoleName != nil {
                if case .some(.some(let id)) = change.consoleID { try checkConsoleIDFree(w.db, id, tokenID: record.id!) }
                var link = t.current.console
                if let id = change.consoleID { link.id = id; link.state = id == nil ? nil : (link.state ?? .enabled); fields.append("console_id") }
                if let n = change.consoleName { link.name = n; fields.append("console_name") }
                try TokenVersionRecord.updateConsole(w.db, tokenID: record.id!, version: t.current.version, link)
            }
            _ = try sealState(w, &record)
            w.subjects = [AuditSubject(name: name, version: t.current.version)]
            w.details["fields"] = fields.joined(separator: ",")
        }
    }

    /// Renames a token; its secrets, versions and history stay (they are bound to its id, not
    /// its name). Refuses a name in use. Metadata and state MACs sealed again under the
    /// `rename` row, which names both.
    public func rename(_ old: String, to new: String) throws(VaultError) {
        try Validate.tokenName(new)
        guard old != new else { throw .invalidInput(reason: "the new name is the old one", hint: nil) }
        try perform("rename", subjects: [AuditSubject(name: old), AuditSubject(name: new)]) { w in
            guard try !TokenRecord.exists(new, w.db) else { throw VaultError.tokenExists(name: new) }
            let t = try resolve(w.db, old)
            var record = t.record
            record.name = new
            try record.updateMetadata(w.db)
            try sealMetadata(w.db, &record)
            _ = try sealState(w, &record)
            w.subjects = [AuditSubject(name: old, version: t.current.version), AuditSubject(name: new, version: t.current.version)]
        }
    }
}
