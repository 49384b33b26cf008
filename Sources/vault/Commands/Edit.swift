import ArgumentParser
import Foundation
import VaultCore
import VaultFormat
import VaultStorage

struct Edit: ParsableCommand, UsesGlobalOptions, NamesOneToken {
    static let configuration = CommandConfiguration(
        commandName: "edit",
        abstract: "Change a key's region or base URL, role, description, permissions, current expiry, console link or warning window.",
        discussion: """
            Touches nothing else: no secret is read or written. The metadata and version-state \
            MACs are sealed again and the change is audited with the fields it changed. \
            `--role ''` or `--description ''` clears the field; --permission replaces the list \
            (--clear-permissions empties it).
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var token: TokenNameArgument
    @Option(help: ArgumentHelp("Vision One region: us au eu in jp sg mea uk usgov ca za.", valueName: "code"), completion: Completions.regions)
    var region: String?
    @Option(name: .customLong("base-url"), help: ArgumentHelp("API base URL instead of a region (https only).", valueName: "url"))
    var baseURL: String?
    @Option(help: ArgumentHelp("The key's role in the console ('' clears it).", valueName: "text")) var role: String?
    @Option(help: ArgumentHelp("Free-text description ('' clears it).", valueName: "text")) var description: String?
    @Option(name: .customLong("permission"), help: ArgumentHelp("A permission (repeatable; replaces the list).", valueName: "text"))
    var permissions: [String] = []
    @Flag(name: .customLong("clear-permissions"), help: "Remove every permission.") var clearPermissions = false
    @Option(help: ArgumentHelp("The current version's expiry: 30d, 90d, 180d, 1y, never, or YYYY-MM-DD.", valueName: "when"))
    var expires: String?
    @Option(name: .customLong("console-id"), help: ArgumentHelp("Link the current version to this console key id (Administration > API Keys; '' unlinks).", valueName: "id"))
    var consoleID: String?
    @Option(name: .customLong("console-name"), help: ArgumentHelp("The console key's name for the current version.", valueName: "name"))
    var consoleName: String?
    @Option(name: .customLong("warn-days"), help: ArgumentHelp("Warn this many days before the key expires ('default': the smaller of 30 and a third of its lifetime).", valueName: "days"))
    var warnDays: String?
    @Flag(help: "Print the edited key as `show --json` does.") var json = false

    func validate() throws {
        if let warnDays, warnDays != "default", Int(warnDays) == nil { throw ValidationError("--warn-days takes a number of days or 'default'") }
        if region != nil, baseURL != nil { throw ValidationError("give --region or --base-url, not both") }
        if clearPermissions, !permissions.isEmpty { throw ValidationError("give --permission or --clear-permissions, not both") }
        if permissions.count > 64 { throw ValidationError("at most 64 permissions") }
    }

    func run() throws {
        let vault = try global.openVault()
        var change = TokenEdit()
        if let region { change.endpoint = .region(try Region.parse(region)) }
        if let baseURL { change.endpoint = .custom(try Validate.baseURL(baseURL)) }
        if let role { change.role = .some(role.isEmpty ? nil : role) }
        if let description { change.description = .some(description.isEmpty ? nil : description) }
        if !permissions.isEmpty || clearPermissions { change.permissions = permissions }
        if let expires { change.expires = .some(try ExpirySpec.parse(expires, now: vault.clock.now())) }
        if let consoleID { change.consoleID = .some(consoleID.isEmpty ? nil : consoleID) }
        if let consoleName { change.consoleName = .some(consoleName) }
        if let warnDays { change.warnDays = .some(warnDays == "default" ? nil : Int(warnDays)) }
        try change.checkNotEmpty()
        try vault.store.requireTokens([name])
        let unlocked = try global.unlock(vault)
        try unlocked.edit(name, change)
        if json { return try TokenView.printJSON(name, in: vault) }
        Output.done("edited \(name)")
    }
}
