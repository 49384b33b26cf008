import ArgumentParser
import Foundation
import VaultCore
import VaultFormat
import VaultStorage

extension ExportFormat: ExpressibleByArgument {}
extension NameSet: ExpressibleByArgument {}

/// Variable naming flags shared by `export` and `exec`.
struct NamingOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Variable names: cookbook (TMV1_TOKEN, TMV1_URL), terraform (VISIONONE_API_KEY, VISIONONE_REGIONAL_FQDN) or mcp (TREND_VISION_ONE_API_KEY).", valueName: "set"))
    var names: NameSet = .cookbook

    @Option(name: .customLong("token-var"), help: ArgumentHelp("Name of the token variable instead.", valueName: "name"))
    var tokenVar: String?

    @Option(name: .customLong("url-var"), help: ArgumentHelp("Name of the base-URL variable instead.", valueName: "name"))
    var urlVar: String?

    @Flag(help: "Prefix each variable with its token's name (needed for several tokens).")
    var prefix = false

    @Flag(name: .customLong("allow-expired"), help: "Export even if a token has expired.")
    var allowExpired = false

    var naming: ExportNaming {
        ExportNaming(set: names, tokenVariable: tokenVar, urlVariable: urlVar, prefixWithName: prefix)
    }

    func check(_ tokens: [String]) throws {
        guard !tokens.isEmpty else { throw ValidationError("name at least one token") }
        for t in tokens { try Validate.tokenName(t) }
        guard Set(tokens).count == tokens.count else { throw ValidationError("a token is named twice") }
        if let v = tokenVar { try ExportNaming.validateVariable(v) }
        if let v = urlVar { try ExportNaming.validateVariable(v) }
    }
}

struct Export: ParsableCommand {
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
    @Option(help: ArgumentHelp("env, dotenv, json, github or raw.", valueName: "format")) var format: ExportFormat = .env
    @OptionGroup var naming: NamingOptions
    @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp("Write to this file (created 0600; never overwritten without --force).", valueName: "file"))
    var output: String?
    @Flag(help: "With -o: replace an existing file atomically.") var force = false
    @Flag(name: .customLong("json-meta"), help: "With --format json: add each token's metadata under _meta (version, expires, region, base_url, role, description, permissions; console_id, console_name, console_state and manager when set), for `import --format json`.") var jsonMeta = false
    @Flag(help: "With --format raw: end with a newline (always done when stdout is a terminal).") var newline = false
    @Flag(help: "Export every stored token (needs --prefix unless there is only one or --json-meta is given).") var all = false

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
    /// `set -e` script instead of letting it go on with the variables unset. Decided from argv,
    /// so a usage error (`--fromat`) fails closed too.
    static let failClosedLine = "false\n"

    static func failClosed(_ arguments: [String]) {
        guard failsClosed(arguments) else { return }
        Interrupt.keepStdout()  // said once
        Output.stdout(failClosedLine)
    }

    /// Whether a failure of this command line prints `failClosedLine`. Nothing evaluates a
    /// terminal; there the line would only puzzle.
    static func failsClosed(_ arguments: [String]) -> Bool {
        isatty(1) == 0 && evalable(Array(arguments.dropFirst()))
    }

    /// Called first thing: a fatal signal (`timeout`, `kill`, SIGHUP) ends the process without
    /// reaching `failClosed`, so the signal handler prints the line then (`Interrupt`).
    static func failClosedOnSignal(_ arguments: [String]) {
        if failsClosed(arguments) { Interrupt.failClosedOnSignal(failClosedLine) }
    }

    /// Whether `args` (argv without the program) run `export` with stdout as the destination
    /// in a format a shell evaluates: `env` (the default) or `dotenv`.
    static func evalable(_ args: [String]) -> Bool {
        guard Main.subcommand(of: [""] + args) == "export" else { return false }
        var format = ExportFormat.env.rawValue
        var i = 0
        while i < args.count {
            let a = args[i]
            if a == "--" { break }
            if a == "-o" || a == "--output" || a.hasPrefix("--output=") || (a.hasPrefix("-o") && !a.hasPrefix("--")) { return false }
            if a == "--format", i + 1 < args.count { format = args[i + 1]; i += 2; continue }
            if a.hasPrefix("--format=") { format = String(a.dropFirst("--format=".count)) }
            i += 1
        }
        return format == ExportFormat.env.rawValue || format == ExportFormat.dotenv.rawValue || ExportFormat(rawValue: format) == nil
    }
}

/// A file created for `-o`: O_EXCL 0600, or a 0600 temporary file renamed over the target.
final class OutputFile {
    let path: String
    let fd: Int32
    let tempPath: String?
    private var done = false
    private var closed = false
    /// Until written, a signal (Ctrl-C at the passphrase prompt) removes the empty file.
    private let signalSlot: Int?

    private init(path: String, fd: Int32, tempPath: String?) {
        self.path = path; self.fd = fd; self.tempPath = tempPath
        signalSlot = Interrupt.removeOnSignal(tempPath ?? path)
    }

    private func closeOnce() {
        if !closed { close(fd); closed = true }
    }

    static func create(_ path: String, replace: Bool) throws -> OutputFile {
        var st = stat()
        if stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
            throw VaultError.invalidInput(reason: "\(path) is a directory", hint: nil)
        }
        if !replace {
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                if errno == EEXIST {
                    throw VaultError.invalidInput(reason: "\(path) already exists; it was not touched", hint: "pass --force to replace it atomically")
                }
                throw VaultError.io(reason: "cannot create \(path): \(String(cString: strerror(errno)))")
            }
            return OutputFile(path: path, fd: fd, tempPath: nil)
        }
        let dir = (path as NSString).deletingLastPathComponent
        var template = Array(((dir.isEmpty ? "." : dir) + "/." + (path as NSString).lastPathComponent + ".v1vault-XXXXXX").utf8CString)
        let fd = mkstemp(&template)  // 0600, O_EXCL
        guard fd >= 0 else { throw VaultError.io(reason: "cannot create a temporary file next to \(path): \(String(cString: strerror(errno)))") }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return OutputFile(path: path, fd: fd, tempPath: template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
    }

    func write(_ bytes: borrowing SecureBytes) throws {
        try Output.writeSecret(bytes, fd: fd)
        guard fsync(fd) == 0 else { throw VaultError.io(reason: "cannot write \(path): \(String(cString: strerror(errno)))") }
        closeOnce()
        if let tempPath, rename(tempPath, path) != 0 {
            throw VaultError.io(reason: "cannot replace \(path): \(String(cString: strerror(errno)))")
        }
        Interrupt.keep(signalSlot)
        done = true
    }

    /// Removes what was created when the export failed.
    func abandon() {
        guard !done else { return }
        closeOnce()
        unlink(tempPath ?? path)
        Interrupt.keep(signalSlot)
        done = true
    }

    /// Appends to an existing file (GitHub's $GITHUB_ENV).
    static func append(_ path: String, _ bytes: borrowing SecureBytes) throws {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw VaultError.io(reason: "cannot open $GITHUB_ENV (\(path)): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        try Output.writeSecret(bytes, fd: fd)
    }
}

struct ExecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run a command with tokens in its environment (audited).",
        discussion: """
            Replaces itself with COMMAND (PATH lookup, no shell; arguments passed untouched). \
            V1VAULT_PASSPHRASE* variables are removed, and COMMAND starts in a session keyring \
            of its own, so it cannot use this login's `vault unlock` (--keep-session lets it; an \
            `unlock --scope user` session, or one in the default user-session keyring where the login has \
            no session keyring, it can use regardless). Exit status is the command's; the \
            vault's own failures exit 125, a command that cannot run 126, one not found 127.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var naming: NamingOptions
    @Flag(help: "Give the command only PATH, HOME, LANG and the token variables.") var pristine = false
    @Flag(name: .customLong("keep-session"), help: "Leave the command in this login's session keyring: it (and every vault command it runs) can use an unlocked session of any vault.")
    var keepSession = false
    @Argument(help: ArgumentHelp("NAME… -- COMMAND [ARGS…]", valueName: "name"), completion: Completions.tokenNames)
    var positionals: [String] = []

    static let vaultFailure: Int32 = 125

    /// Everything after the first literal `--` on the command line is the command, untouched
    /// (ArgumentParser appends those words to the positionals, in order).
    var command: [String] {
        let argv = Main.arguments
        guard let dash = argv.firstIndex(of: "--") else { return [] }
        return Array(argv[(dash + 1)...])
    }

    var tokens: [String] { Array(positionals.dropLast(command.count)) }

    var argvHasDashDash: Bool { Main.arguments.contains("--") }

    func run() throws {
        // A forgotten `--` (`vault exec siem env`) is a usage error (exit 64), not a vault
        // failure: nothing was tried, and the hint shows the form that works.
        guard !command.isEmpty else {
            let hint = positionals.count >= 2
                ? "put -- before the command: " + Shell.command([Output.program, "exec", positionals[0], "--"] + positionals.dropFirst())
                : "\(Output.program) exec NAME… -- COMMAND [ARGS…]"
            Output.fail(.invalidInput(reason: argvHasDashDash ? "no command given after --" : "no command given: the command goes after --", hint: hint))
            throw ExitCode(VaultError.invalidInput(reason: "", hint: nil).exitCode)
        }
        do {
            try naming.check(tokens)
            let executable = try Exec.resolve(command[0], path: global.environment["PATH"])
            let vault = try global.openVault()
            try vault.store.requireTokens(tokens)
            let unlocked = try global.unlock(vault)
            if !keepSession, unlocked.session?.keyring == .user {
                Output.note("note: this vault's session is in your user keyring (`vault unlock --scope user`): \(command[0]) can use it too, as every process of yours can")
            } else if !keepSession, unlocked.session?.keyring == .userSession {
                // No login-session keyring here: the session is in the uid's default one, which
                // any process of the uid may join by name — a new session keyring cannot hide it.
                Output.note("note: this vault's session is in uid \(getuid())'s default user-session keyring (there is no login-session keyring here): \(command[0]) can use it too, by joining that keyring (`keyctl session _uid_ses.\(getuid())`)")
            }
            var vars: [ExportVariable] = []
            var details = ["program": executable, "pristine": "\(pristine)", "names": naming.names.rawValue]
            if keepSession { details["keep_session"] = "true" }
            let revealed = try unlocked.revealMany(tokens.map { ($0, nil) }, allowExpired: naming.allowExpired, action: "exec",
                                                   details: details) { toks throws(VaultError) in
                vars = try Exporter.variables(toks, naming: naming.naming)
            }
            for r in revealed { if let w = r.warning { Output.warn(w) } }
            vault.store.close()
            fflush(nil)
            do {
                try Exec.run(executable: executable, arguments: command, exported: vars, pristine: pristine, keepSession: keepSession)
            } catch {
                try? Vault.open(at: vault.path).recordUnsealed(action: "exec", subjects: tokens.map { AuditSubject(name: $0) },
                                                               details: ["program": executable], error: error)
                throw error
            }
        } catch let error as VaultError {
            Output.fail(error, suggestion: Main.suggestion(for: error, in: self))
            switch error {
            case .commandNotFound, .commandNotExecutable: throw ExitCode(error.exitCode)
            default: throw ExitCode(Self.vaultFailure)
            }
        }
    }
}
