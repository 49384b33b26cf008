import ArgumentParser
import Foundation
import VaultCore
import VaultFormat

struct AuditVerify: ParsableCommand, UsesGlobalOptions {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Walk the MAC chain and report the first row edited, deleted, inserted or reordered.",
        discussion: "Exit 0 when intact, 20 when not. --expect-head (from `vault audit head`) also catches a truncated tail or a rolled-back file.")

    @OptionGroup var global: GlobalOptions
    @Option(name: .customLong("expect-head"), help: ArgumentHelp("A head recorded earlier: SEQ:MAC.", valueName: "head")) var expectHead: String?
    @Flag(help: "One JSON object: intact, sealed_rows, pending_rows, head, problem (exit 20 still says broken).") var json = false

    func run() throws {
        let expected = try expectHead.map { h throws(VaultError) in try AuditHead.parse(h) }
        let vault = try global.openVault()
        let unlocked = try global.unlock(vault)
        let result = try unlocked.verifyAudit(expectHead: expected)
        if json {
            let head: JSONValue = result.head.map { .string("\($0)") } ?? .null
            let problem: JSONValue = result.problem.map { .string("\($0)") } ?? .null
            let fields: [(String, JSONValue)] = [("intact", .bool(result.problem == nil)), ("sealed_rows", .int(Int(result.sealedRows))),
                                                 ("pending_rows", .int(Int(result.pendingRows))), ("head", head), ("problem", problem)]
            Output.result(fields)
            if result.problem == nil { return }
        }
        if let problem = result.problem {
            Output.fail(.io(reason: "audit chain broken: \(problem)"))
            throw ExitCode(ExitStatus.auditChainBroken)
        }
        Output.line("audit chain intact: \(result.sealedRows) sealed rows\(result.pendingRows > 0 ? ", \(result.pendingRows) pending" : "")" +
                    (result.head.map { ", head \($0)" } ?? ""))
    }
}
