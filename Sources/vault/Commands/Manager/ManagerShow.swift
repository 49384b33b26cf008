import ArgumentParser
import Foundation
import VaultCore
import VaultFormat

struct ManagerShow: ParsableCommand, UsesGlobalOptions {
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
