import ArgumentParser
import Foundation
import VaultCore
import VaultFormat
import VaultStorage

struct Manager: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manager",
        abstract: "Mark the stored key that calls Vision One's API-keys API for its region.",
        discussion: """
            `renew` and `sync` call Administration > API Keys as an API with the manager key of \
            the token's base URL: a key whose role has the API Keys permission. Since 2025-10-27 \
            the console does not give new API keys the Master Administrator role (older keys keep \
            it), so a new manager key needs a custom role (Administration > User Roles) with the \
            API Keys permission that may be assigned to API keys — and renewing a legacy Master \
            Administrator manager needs `vault renew NAME --role ROLE` once. One manager per base \
            URL; it can renew itself (last in its run).
            """,
        subcommands: [ManagerSet.self, ManagerShow.self, ManagerUnset.self],
        defaultSubcommand: ManagerShow.self)
}

struct ManagerSet: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "set", abstract: "Make NAME the manager key of its base URL.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("A stored token whose console role has the API Keys permission.", valueName: "name"),
              completion: Completions.tokenNames) var name: String
    @Option(help: ArgumentHelp("Refuse unless NAME belongs to this region.", valueName: "region"), completion: Completions.regions)
    var region: String?
    @Option(name: .customLong("base-url"), help: ArgumentHelp("Refuse unless NAME belongs to this base URL.", valueName: "url"))
    var baseURL: String?
    @Flag(help: "Print the result as JSON.") var json = false

    func validate() throws {
        if region != nil && baseURL != nil { throw ValidationError("give --region or --base-url, not both") }
    }

    func run() throws {
        try Validate.tokenName(name)
        let expected = try baseURL.map(Validate.baseURL) ?? region.map(Region.parse)?.baseURL
        let vault = try global.openVault()
        try vault.store.requireTokens([name])
        let (info, replaced) = try global.unlock(vault).setManager(name, expectedBaseURL: expected)
        if json {
            Output.result([("manager", .string(info.name)), ("base_url", .string(info.baseURL)),
                           ("replaced", replaced.map { .string($0) } ?? .null)])
        } else {
            Output.done("\(info.name) is the manager key for \(info.baseURL)" + (replaced.map { " (was \($0))" } ?? ""))
        }
    }
}

struct ManagerShow: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "List the manager keys (exit 28 when there is none).")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let vault = try global.openVault()
        let managers = try global.unlock(vault).managers()
        if json {
            Output.line("[" + managers.map { m in
                JSONValue.object([("name", .string(m.name)), ("base_url", .string(m.baseURL)), ("region", m.region.map { .string($0.rawValue) } ?? .null)]).text
            }.joined(separator: ",") + "]")
        } else if managers.isEmpty {
            Output.note(Output.spelled("no manager key: `vault manager set NAME` marks a stored key with the API Keys permission"))
        } else {
            Output.table(["BASE URL", "REGION", "MANAGER"], managers.map { [$0.baseURL, $0.region?.rawValue ?? "-", $0.name] })
        }
        if managers.isEmpty { throw ExitCode(VaultError.noManager(baseURL: "").exitCode) }
    }
}

struct ManagerUnset: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unset", abstract: "Stop using NAME as a manager key.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("The manager key.", valueName: "name"), completion: Completions.tokenNames) var name: String
    @Flag(help: "One JSON object, as `manager set` prints it: manager (null now), base_url, replaced (NAME).") var json = false

    func run() throws {
        try Validate.tokenName(name)
        let vault = try global.openVault()
        try vault.store.requireTokens([name])
        let baseURL = try vault.show(name, audited: false).metadata.baseURL
        try global.unlock(vault).unsetManager(name)
        if json { return Output.result([("manager", .null), ("base_url", .string(baseURL)), ("replaced", .string(name))]) }
        Output.done("\(name) is no longer a manager key")
    }
}
