import ArgumentParser
import Foundation
import VaultCore
import VaultFormat
import VisionOne
import VaultStorage

/// `--timeout`, the same for `check`, `add --check` and `rotate --check`: 1 ms to 300 s.
struct TimeoutOption: ParsableArguments {
    @Option(help: ArgumentHelp("Time limit per request, 1ms to 300s.", valueName: "time"))
    var timeout: String = "10s"

    func validate() throws {
        do { _ = try checker() } catch { throw ValidationError(error.description) }
    }

    func checker() throws(VaultError) -> ConnectivityChecker {
        ConnectivityChecker(timeout: TimeInterval(try TimeSpan.timeout(timeout)) / 1000)
    }
}

/// Reading the pasted key of `add` and `rotate`, with --force.
struct PastedKeyOptions: ParsableArguments {
    @Flag(help: "Store a value that is not shaped like a Vision One key (a JWT) without asking.")
    var force = false

    /// The key from the prompt or stdin: surrounding whitespace and a leading "Bearer "
    /// stripped (with a note), then its shape checked — confirmed at a terminal, refused
    /// without --force off one.
    func read(prompt: String = "Paste the Vision One API key (input hidden): ") throws -> SecureBytes {
        var stripped: [String] = []
        let token = try SecretInput.readToken(prompt: prompt, stripped: &stripped)
        if !stripped.isEmpty { Output.note("note: stripped \(stripped.joined(separator: " and ")) from the key") }
        guard !force, !TokenInput.looksLikeKey(token) else { return token }
        guard Terminal.stdinIsTerminal else { throw VaultError.notShapedLikeKey }
        Output.warn("\(VaultError.notShapedLikeKey)")
        guard try Terminal.open().confirm("Store it anyway?") else { throw VaultError.cancelled(reason: "nothing was stored") }
        return token
    }
}

/// --check and --timeout for `add` and `rotate`.
struct CheckOption: ParsableArguments {
    @Flag(help: "Verify the new token with Vision One (GET /v3.0/healthcheck/connectivity) before storing it.")
    var check = false

    @OptionGroup var timeout: TimeoutOption

    func checker() throws -> ConnectivityChecker { try timeout.checker() }

    static func report(_ r: CheckResult) {
        Output.note("checked with Vision One: \(r.outcome.rawValue) (HTTP \(r.httpStatus.map(String.init) ?? "-")\(r.traceID.map { ", trace \($0)" } ?? ""))")
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Ask Vision One whether tokens work (GET /v3.0/healthcheck/connectivity).",
        discussion: """
            One request per token's current version, at its region's base URL, a few at a time; no \
            retries; redirects are not followed. Exit 0 when all are ok, 22 when Vision One rejected \
            at least one token (invalid credentials, access denied), 23 when a check could not \
            complete (network, timeout, TLS, rate limit, server error).
            """)

    static let someRejected: Int32 = 22
    static let unreachable: Int32 = 23

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("Tokens to check.", valueName: "name"), completion: Completions.tokenNames) var names: [String] = []
    @Flag(help: "Check every stored token.") var all = false
    @OptionGroup var timeout: TimeoutOption
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        if all == !names.isEmpty { throw ValidationError(all ? "give token names or --all, not both" : "name the tokens to check, or pass --all") }
    }

    func run() throws {
        for n in names { try Validate.tokenName(n) }
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
        if results.contains(where: \.rejected) { throw ExitCode(Self.someRejected) }
        if results.contains(where: { $0.outcome != .ok }) { throw ExitCode(Self.unreachable) }
    }
}
