import ArgumentParser
import Foundation
import VaultCore
import VaultFormat
import VisionOne

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
