import ArgumentParser
import Foundation
import VaultCore
import VaultFormat
import VaultStorage

struct ManagerSet: ParsableCommand, UsesGlobalOptions {
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
        try InputCheck.tokenNames([name])
    }

    func run() throws {
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
