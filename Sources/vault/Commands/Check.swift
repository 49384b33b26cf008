import ArgumentParser
import Foundation
import VaultCore
import VaultFormat
import VaultStorage
import VisionOne

struct Check: ParsableCommand, UsesGlobalOptions {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Ask Vision One whether tokens work (GET /v3.0/healthcheck/connectivity).",
        discussion: """
            One request per token's current version, at its region's base URL, a few at a time; no \
            retries; redirects are not followed. Exit 0 when all are ok, 22 when Vision One rejected \
            at least one token (invalid credentials, access denied), 23 when a check could not \
            complete (network, timeout, TLS, rate limit, server error).
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("Tokens to check.", valueName: "name"), completion: Completions.tokenNames) var names: [String] = []
    @Flag(help: "Check every stored token.") var all = false
    @OptionGroup var timeout: TimeoutOption
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        if all == !names.isEmpty { throw ValidationError(all ? "give token names or --all, not both" : "name the tokens to check, or pass --all") }
        try InputCheck.tokenNames(names)
    }

    func run() throws {
        let checker = try timeout.checker()
        let vault = try global.openVault()
        try vault.store.requireTokens(names)
        let unlocked = try global.unlock(vault)
        let targets = all ? try unlocked.allNames() : names
        guard !targets.isEmpty else { Output.note("no tokens stored"); return }
        let results = try unlocked.check(targets, checker: checker)
        if json {
            Output.line(Output.json(results))
        } else {
            Output.table(["NAME", "VERSION", "RESULT", "HTTP", "CODE", "TRACE ID", "DETAIL"], results.map { r in
                [r.name, "\(r.version)", r.outcome.rawValue, r.httpStatus.map(String.init) ?? "-", r.errorCode ?? "-",
                 r.traceID ?? "-", r.message ?? ""]
            })
        }
        if results.contains(where: \.rejected) { throw ExitCode(ExitStatus.tokenRejected) }
        if results.contains(where: { $0.outcome != .ok }) { throw ExitCode(ExitStatus.checkIncomplete) }
    }
}
