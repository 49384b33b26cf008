import ArgumentParser
import Foundation
import VaultCore

struct RecipientList: ParsableCommand, UsesGlobalOptions {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the recipients, whether each is trusted, and what it follows.")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print a JSON array.") var json = false

    static func json(_ r: RecipientInfo) -> JSONValue {
        .object([("name", .string(r.name)), ("recipient", .string(r.recipient)), ("signing_key", r.signingKey.map { .string($0) } ?? .null),
                 ("trusted", .bool(r.trusted)), ("created", .date(r.created)), ("follows", .array(r.follows.map { .string($0) }))])
    }

    func run() throws {
        let vault = try global.openVault()
        let list = try global.unlock(vault).recipients()
        if json { return Output.line(JSONValue.array(list.map(Self.json)).text) }
        if list.isEmpty { return Output.note(Output.spelled("no recipients: `vault recipient add NAME age1… --signing-key v1vsig1…` adds one")) }
        Output.table(["NAME", "TRUSTED", "FOLLOWS", "RECIPIENT"],
                     list.map { [$0.name, $0.trusted ? "yes" : ($0.signingKey == nil ? "no (no key)" : "no"),
                                 $0.follows.isEmpty ? "-" : $0.follows.joined(separator: ","), $0.recipient] })
    }
}
