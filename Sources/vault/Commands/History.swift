import ArgumentParser
import Foundation
import VaultCore
import VaultFormat

struct History: ParsableCommand, UsesGlobalOptions, NamesOneToken {
    static let configuration = CommandConfiguration(commandName: "history", abstract: "List every kept version of a key, newest first.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var token: TokenNameArgument
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let vault = try global.openVault()
        let versions = try vault.history(name)
        let current = versions.first { $0.retired == nil }?.version
        let views = versions.map { VersionView($0, current: current) }
        if json { Output.line(Output.json(views)); return }
        let linked = views.contains { $0.console_id != nil || $0.console_name != nil }
        Output.table(["VERSION", "CREATED", "EXPIRES", "RETIRED", "STATE"] + (linked ? ["CONSOLE KEY", "IN CONSOLE"] : []), views.map { v in
            ["\(v.version)", Timestamp.iso(v.created), Output.expiry(v.expires), v.retired.map(Timestamp.iso) ?? "-", v.state]
                + (linked ? [v.console_name ?? v.console_id ?? "-", v.console_state ?? "-"] : [])
        })
    }
}
