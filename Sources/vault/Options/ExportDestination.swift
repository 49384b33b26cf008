import ArgumentParser
import Foundation
import VaultCore
import VaultFormat

/// Where `export` writes and in what form: --format and -o. One group, so that a command
/// line ArgumentParser refused can still be read for them (`RefusedCommandLine`).
struct ExportDestination: ParsableArguments {
    @Option(help: ArgumentHelp("env, dotenv, json, github or raw.", valueName: "format")) var format: ExportFormat = .env
    @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp("Write to this file (created 0600; never overwritten without --force).", valueName: "file"))
    var output: String?

    /// Stdout is the destination, in a format a shell evaluates: `env` (the default) or `dotenv`.
    var evaluatedByShell: Bool { output == nil && (format == .env || format == .dotenv) }
}
