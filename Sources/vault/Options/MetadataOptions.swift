import ArgumentParser
import Foundation
import VaultCore
import VaultFormat

/// --region / --base-url / --role / --description / --permission, shared by `add`.
struct MetadataOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Vision One region: us au eu in jp sg mea uk usgov ca za (default us).", valueName: "code"), completion: Completions.regions)
    var region: String?

    @Option(name: .customLong("base-url"), help: ArgumentHelp("API base URL instead of a region (https only).", valueName: "url"))
    var baseURL: String?

    @Option(help: ArgumentHelp("The key's role in the console, e.g. 'SIEM'.", valueName: "text"))
    var role: String?

    @Option(help: ArgumentHelp("Free-text description.", valueName: "text"))
    var description: String?

    @Option(name: .customLong("permission"), help: ArgumentHelp("A permission granted to the key (repeatable).", valueName: "text"))
    var permissions: [String] = []

    func metadata() throws -> TokenMetadata {
        if region != nil, baseURL != nil {
            throw VaultError.invalidInput(reason: "give --region or --base-url, not both", hint: nil)
        }
        let r = try region.map { name throws(VaultError) in try Region.parse(name) }
        let url = try baseURL.map { u throws(VaultError) in try Validate.baseURL(u) }
        guard permissions.count <= 64 else { throw VaultError.invalidInput(reason: "at most 64 permissions", hint: nil) }
        return TokenMetadata(
            region: url == nil ? (r ?? .us) : nil, baseURL: url,
            role: try role.map { v throws(VaultError) in try Validate.text(v, field: "role") },
            description: try description.map { v throws(VaultError) in try Validate.text(v, field: "description", max: 1024) },
            permissions: try permissions.map { v throws(VaultError) in try Validate.text(v, field: "permission") })
    }
}

/// --expires, shared by `add` and `rotate`.
struct ExpiryOption: ParsableArguments {
    @Option(help: ArgumentHelp("When the key expires: 30d, 90d, 180d, 1y, never, or YYYY-MM-DD; 1y is also the console's default.", valueName: "when"))
    var expires: String = "1y"

    func date(now: Date) throws -> Date? { try ExpirySpec.parse(expires, now: now) }
}

/// --console-id / --console-name of `add` and `rotate`: which console key the stored version is.
struct ConsoleLinkOptions: ParsableArguments {
    @Option(name: .customLong("console-id"), help: ArgumentHelp("The console key's id (Administration > API Keys), so `renew` and `sync` can manage it.", valueName: "id"))
    var consoleID: String?
    @Option(name: .customLong("console-name"), help: ArgumentHelp("The console key's name.", valueName: "name"))
    var consoleName: String?

    func validate() throws {
        if let consoleID, !ConsoleLink.isValidID(consoleID) { throw ValidationError("invalid console id: letters, digits, '.', '_', ':' and '-' (a UUID)") }
        if let consoleName, !ConsoleLink.isValidName(consoleName) { throw ValidationError("invalid console name") }
    }

    /// The link the version being stored gets, in the same transaction (enabled when an id is given).
    var link: ConsoleLink { ConsoleLink(id: consoleID, name: consoleName, state: consoleID == nil ? nil : .enabled) }
}
