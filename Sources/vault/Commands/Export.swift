import ArgumentParser
import Foundation
import VaultCore
import VaultFormat
import VaultStorage

struct Export: ParsableCommand, UsesGlobalOptions {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Print tokens as variables for a pipeline (audited).",
        discussion: """
            Formats: env (export NAME='value', for eval), dotenv (NAME=value), json, github \
            (::add-mask:: on stdout, variables appended to $GITHUB_ENV), raw (token bytes only). \
            One unlock serves every named token. With --json-meta (several tokens: prefixed variables, as with \
            --prefix), `import --format json` recreates the tokens elsewhere with their metadata, the console link of the exported version and \
            the manager mark (moving keys into a service user's vault).
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("Tokens to export.", valueName: "name"), completion: Completions.tokenNames) var tokens: [String] = []
    @OptionGroup var outputOptions: ExportDestination
    @OptionGroup var naming: NamingOptions
    @Flag(help: "With -o: replace an existing file atomically.") var force = false
    @Flag(name: .customLong("json-meta"), help: "With --format json: add each token's metadata under _meta (version, expires, region, base_url, role, description, permissions; console_id, console_name, console_state and manager when set), for `import --format json`.") var jsonMeta = false
    @Flag(help: "With --format raw: end with a newline (always done when stdout is a terminal).") var newline = false
    @Flag(help: "Export every stored token (needs --prefix unless there is only one or --json-meta is given).") var all = false

    var format: ExportFormat { outputOptions.format }
    var output: String? { outputOptions.output }

    func validate() throws {
        if all, !tokens.isEmpty { throw ValidationError("give token names or --all, not both") }
        if force, output == nil { throw ValidationError("--force needs -o FILE") }
        if jsonMeta, format != .json { throw ValidationError("--json-meta needs --format json") }
        if newline, format != .raw { throw ValidationError("--newline needs --format raw") }
        if format == .github, output != nil { throw ValidationError("--format github writes to $GITHUB_ENV; -o does not apply") }
        if format == .raw, tokens.count != 1 || all { throw ValidationError("--format raw exports exactly one token") }
    }

    func run() throws {
        var tokens = self.tokens
        let vault = try global.openVault()
        if all { tokens = try vault.store.tokenNames() }
        try naming.check(tokens)
        var githubEnv: String?
        if format == .github {
            guard let path = global.environment["GITHUB_ENV"], !path.isEmpty else {
                throw VaultError.invalidInput(reason: "--format github needs $GITHUB_ENV (set by the Actions runner)", hint: nil)
            }
            guard !Descriptors.closedAtStart.contains(1) else {
                throw VaultError.io(reason: "stdout is closed: the ::add-mask:: line cannot reach the runner, so nothing is written to $GITHUB_ENV")
            }
            githubEnv = path
        }
        if !all { try vault.store.requireTokens(tokens) }
        // Claim the destination before anything is revealed, so a clash costs nothing.
        let destination = try output.map { path throws -> OutputFile in try OutputFile.create(path, replace: force) }
        var rendered: SecureBytes?
        var mask: SecureBytes?
        do {
            let unlocked = try global.unlock(vault)
            // The file as an absolute path, so that a later `rotate` can find it again.
            let absolute = output.map { $0.hasPrefix("/") ? $0 : FileManager.default.currentDirectoryPath + "/" + $0 }
            let destKind = absolute.map { "file:\($0)" } ?? (format == .github ? "github-env" : "stdout")
            let revealed = try unlocked.revealMany(tokens.map { ($0, nil) }, allowExpired: naming.allowExpired, action: "export",
                                                   details: ["format": format.rawValue, "destination": destKind, "names": naming.names.rawValue]) { toks throws(VaultError) in
                // With --json-meta, `_meta` names each token's variable: several tokens get
                // prefixed variables without --prefix (one object cannot hold TMV1_TOKEN twice).
                var names = naming.naming
                if jsonMeta, toks.count > 1 { names.prefixWithName = true }
                let vars = try Exporter.variables(toks, naming: names)
                switch format {
                case .env: rendered = Exporter.env(vars)
                case .dotenv: rendered = try Exporter.dotenv(vars)
                case .json: rendered = Exporter.json(vars, meta: jsonMeta)
                // On a terminal the prompt would otherwise follow the key on its line.
                case .raw: rendered = try Exporter.raw(vars, newline: newline || (output == nil && isatty(1) == 1))
                case .github:
                    mask = Exporter.githubMask(vars)
                    rendered = Exporter.githubEnv(vars)
                }
            }
            for r in revealed { if let w = r.warning { Output.warn(w) } }
            if let githubEnv {
                // Mask first, and only once it has reached stdout write $GITHUB_ENV: with stdout
                // closed the token must not land in the env file unmasked (fail closed).
                try Output.writeSecret(mask!)
                try OutputFile.append(githubEnv, rendered!)
            } else if let destination {
                try destination.write(rendered!)
                Output.note("wrote \(tokens.count) token\(tokens.count == 1 ? "" : "s") to \(output!) (\(format.rawValue), mode 0600)")
            } else {
                try Output.writeSecret(rendered!)
                // Written: a signal from now on must not append `false` to a good export.
                Interrupt.keepStdout()
            }
        } catch {
            destination?.abandon()
            throw error
        }
    }
}

extension Export {
    /// What a failed `export` prints on stdout when its output may be `eval`ed or sourced
    /// (`env`, `dotenv`; no `-o`): `eval "$(vault export k)"` then runs `false`, which stops a
    /// `set -e` script instead of letting it go on with the variables unset. A usage error
    /// (`--fromat`) fails closed too (`RefusedCommandLine.exportsToShell`).
    static let failClosedLine = "false\n"

    /// Prints `failClosedLine` for an export whose stdout a shell evaluates. Nothing evaluates
    /// a terminal; there the line would only puzzle.
    static func failClosed(evaluatedByShell: Bool) {
        guard evaluatedByShell, isatty(1) == 0 else { return }
        Interrupt.keepStdout()  // said once
        Output.stdout(failClosedLine)
    }

    /// Called once parsed, before anything that waits: a fatal signal (`timeout`, `kill`,
    /// SIGHUP) ends the process without reaching `failClosed`, so the signal handler prints
    /// the line then (`Interrupt`).
    func failClosedOnSignal() {
        if outputOptions.evaluatedByShell, isatty(1) == 0 { Interrupt.failClosedOnSignal(Self.failClosedLine) }
    }
}
