import ArgumentParser
import Foundation
import VaultCore

struct Audit: ParsableCommand, UsesGlobalOptions {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Read and verify the tamper-evident audit log.",
        subcommands: [AuditList.self, AuditVerify.self, AuditHeadCommand.self],
        defaultSubcommand: AuditList.self)

    @OptionGroup var global: GlobalOptions
}
