import ArgumentParser
import Foundation
import VaultCore
import VaultFormat

struct AuditHeadCommand: ParsableCommand, UsesGlobalOptions {
    static let configuration = CommandConfiguration(
        commandName: "head", abstract: "Print the chain head (SEQ:MAC) to record elsewhere.")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "One JSON object: head (SEQ:MAC, as --expect-head takes it), seq.") var json = false

    func run() throws {
        let vault = try global.openVault()
        let unlocked = try global.unlock(vault)
        let head = try unlocked.auditHead()
        if json { return Output.result([("head", .string("\(head)")), ("seq", .int(Int(head.seq)))]) }
        Output.line("\(head)")
    }
}
