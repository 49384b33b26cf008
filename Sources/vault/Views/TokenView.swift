import ArgumentParser
import Foundation
import VaultCore
import VaultFormat

/// JSON shape of a token for `list --json` and `show --json`.
struct TokenView: Encodable {
    var name: String
    var region: String?
    var base_url: String
    var role: String?
    var description: String?
    var permissions: [String]
    var created: Date
    var version: Int
    var versions: Int
    var version_created: Date
    var expires: Date?
    var days_left: Int?
    var status: ExpiryStatus
    var warn_days: Int?
    var console_id: String?
    var console_name: String?
    var manager: Bool
    var token: String?

    init(_ s: TokenSummary, now: Date, warnDays: Int) {
        name = s.name
        region = s.metadata.region?.rawValue
        base_url = s.metadata.baseURL
        role = s.metadata.role
        description = s.metadata.description
        permissions = s.metadata.permissions
        created = s.created
        version = s.current.version
        versions = s.versionCount
        version_created = s.current.created
        expires = s.current.expires
        days_left = s.current.expires.map { ExpiryStatus.daysLeft(expires: $0, now: now) }
        status = s.status(now: now, warnDays: warnDays)
        warn_days = s.warnDays
        console_id = s.current.consoleID
        console_name = s.current.consoleName
        manager = s.manager
    }

    /// Every field is present, `null` when unknown, so `show`, `list`, `edit` and `rename` give
    /// one shape (a synthesized encoder would drop `region` for a custom base URL). `token` is
    /// the exception: it appears only with `show --reveal`.
    enum CodingKeys: String, CodingKey {
        case name, region, base_url, role, description, permissions, created, version, versions, version_created
        case expires, days_left, status, warn_days, console_id, console_name, manager, token
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(region, forKey: .region)
        try c.encode(base_url, forKey: .base_url)
        try c.encode(role, forKey: .role)
        try c.encode(description, forKey: .description)
        try c.encode(permissions, forKey: .permissions)
        try c.encode(created, forKey: .created)
        try c.encode(version, forKey: .version)
        try c.encode(versions, forKey: .versions)
        try c.encode(version_created, forKey: .version_created)
        try c.encode(expires, forKey: .expires)
        try c.encode(days_left, forKey: .days_left)
        try c.encode(status, forKey: .status)
        try c.encode(warn_days, forKey: .warn_days)
        try c.encode(console_id, forKey: .console_id)
        try c.encode(console_name, forKey: .console_name)
        try c.encode(manager, forKey: .manager)
        try c.encodeIfPresent(token, forKey: .token)
    }
}

extension TokenView {
    /// A command that changed a key (`edit`, `rename`) prints it with --json as `show --json`
    /// does; the change itself was audited, so this read is not.
    static func printJSON(_ name: String, in vault: Vault) throws {
        Output.line(Output.json(TokenView(try vault.show(name, audited: false), now: vault.clock.now(), warnDays: vault.warnDays)))
    }
}

/// The KDF settings as `init`, `passwd`, `rekey`, `kdf set` and `kdf benchmark` print them with --json.
func kdfJSON(_ p: KDFParameters, adding extra: [(String, JSONValue)] = []) -> JSONValue {
    .object([("algorithm", .string("argon2id")), ("memory", .int(Int(p.memLimit))), ("ops", .int(Int(p.opsLimit)))] + extra)
}

struct VersionView: Encodable {
    var version: Int
    var created: Date
    var expires: Date?
    var retired: Date?
    var state: String
    var console_id: String?
    var console_name: String?
    var console_state: String?

    /// `current`: the current version number, so a newer retired one whose console key is
    /// enabled shows as "staged" (a renewal waiting for its connectivity check).
    init(_ v: TokenVersionInfo, current: Int?) {
        version = v.version; created = v.created; expires = v.expires; retired = v.retired
        state = v.retired != nil && current.map { v.version > $0 } == true && v.consoleState == "enabled" ? "staged" : v.state
        console_id = v.consoleID; console_name = v.consoleName; console_state = v.consoleState
    }
}
