import ArgumentParser
import Foundation
import VaultCore
import VaultFormat

struct Receive: ParsableCommand, UsesGlobalOptions {
    static let configuration = CommandConfiguration(
        commandName: "receive",
        abstract: "Take in keys other vaults shared: age files, or every *.age file in a directory.",
        discussion: """
            Each file is decrypted with this vault's identity and accepted only when its \
            transfer document is signed by a trusted recipient and addressed to this vault. \
            A key is added when new here, rotated when the document holds a newer version from \
            the same sender, and left alone when already held (receiving a drop twice changes \
            nothing). An older version (a replay) is refused. Each file is its own transaction: \
            a refused file changes nothing and is audited; the others are still taken. Exit \
            status: 0, or the first refused file's (30–35, see README).
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("Age files, or directories of *.age files (not recursive).", valueName: "path")) var paths: [String]
    @Flag(help: "Print one JSON object per file.") var json = false

    func validate() throws {
        if paths.isEmpty { throw ValidationError("name at least one file or directory") }
    }

    func run() throws {
        var files: [String] = []
        for p in paths { files += try Outbox.files(at: p) }
        let vault = try global.openVault()
        let unlocked = try global.unlock(vault)
        var firstFailure: VaultError?
        for f in files {
            do throws(VaultError) {
                let bytes = try Outbox.read(f, limit: UnlockedVault.maxDropBytes)
                let r = try unlocked.receive(bytes, label: f)
                if json {
                    Output.line(JSONValue.object([("file", .string(f)), ("sender", .string(r.sender)), ("sha256", .string(r.digest)),
                                                  ("keys", .array(r.keys.map { k in
                                                      .object([("name", .string(k.name)), ("version", .int(k.version)),
                                                               ("local_version", .int(k.localVersion)), ("outcome", .string(k.outcome.rawValue))])
                                                  }))]).text)
                } else {
                    for k in r.keys {
                        Output.done("received \(k.name) version \(k.version) from \(r.sender) (\(k.outcome.rawValue)" +
                                    (k.outcome == .rotated ? ": version \(k.localVersion) here" : "") + ")")
                    }
                }
            } catch {
                if files.count > 1 || json { Output.fail(error) } else { throw error }
                if json { Output.line(JSONValue.object([("file", .string(f)), ("error", .string(error.description)), ("exit", .int(Int(error.exitCode)))]).text) }
                firstFailure = firstFailure ?? error
            }
        }
        if files.isEmpty { Output.note("no *.age files in \(paths.joined(separator: " "))") }
        if let firstFailure { throw ExitCode(firstFailure.exitCode) }
    }
}
