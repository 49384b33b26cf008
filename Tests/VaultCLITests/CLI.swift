import Foundation
import GRDB
import Testing
import TestSupport

/// Runs the built `vault` binary out of process.
struct CLI {
    struct Result: CustomStringConvertible {
        var status: Int32
        var signaled: Bool
        var stdout: Data
        var stderr: String
        var out: String { String(decoding: stdout, as: UTF8.self) }
        var description: String { "status \(status)\(signaled ? " (signal)" : "")\nstdout: \(out)\nstderr: \(stderr)" }
    }

    /// `.build/<config>/vault`, next to the test bundle; V1VAULT_BIN overrides.
    static let binary: String = {
        if let b = ProcessInfo.processInfo.environment["V1VAULT_BIN"] { return b }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("vault").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/vault").path
    }()

    /// A debug build's `vault`, for the few tests that need what only debug builds have (the
    /// renewal step kills, V1VAULT_DEBUG_KILL_AT): `binary` when it is one, else V1VAULT_DEBUG_BIN
    /// (scripts/test sets it for its one pass against the release binary); nil: those tests skip.
    static let debugBinary: String? = binary.contains("/debug/") ? binary
        : ProcessInfo.processInfo.environment["V1VAULT_DEBUG_BIN"].flatMap { $0.contains("/debug/") && FileManager.default.isExecutableFile(atPath: $0) ? $0 : nil }

    /// A child that exits before reading its stdin must not kill the test process.
    static let ignoreSIGPIPE: Void = { signal(SIGPIPE, SIG_IGN) }()

    let dir: String
    let vaultPath: String
    let passphraseFile: String
    var env: [String: String]
    /// A command line every run goes through, e.g. `keyctl session NAME` (a keyring of the
    /// test's own) or `setpriv --reuid …`; the vault binary and its arguments follow it.
    var prefix: [String] = []
    /// The `vault` this CLI runs: `CLI.binary`, or `CLI.debugBinary` for a debug-only test.
    var bin: String = CLI.binary

    /// A fresh private directory with a passphrase file; the vault is not created yet.
    init(passphrase: String = "correct horse battery") throws {
        _ = Self.ignoreSIGPIPE
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("v1vault-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        vaultPath = dir + "/vault.db"
        passphraseFile = dir + "/passphrase"
        try setupFile(passphraseFile, passphrase + "\n")
        env = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
            "HOME": dir, "LANG": "C.UTF-8",
            "V1VAULT_PATH": vaultPath, "V1VAULT_PASSPHRASE_FILE": passphraseFile,
        ]
    }

    /// Creates the vault with the fastest KDF and returns self.
    static func initialized() throws -> CLI {
        let c = try CLI()
        let r = c.run("init", "--kdf-memory", "8M", "--kdf-ops", "1")
        guard r.status == 0 else { throw SetupError("init failed: \(r)") }
        return c
    }

    @discardableResult
    func run(_ args: String..., stdin: String? = nil, env extra: [String: String?] = [:]) -> Result {
        run(args, stdin: stdin.map { Data($0.utf8) }, env: extra)
    }

    /// Runs vault in a new session (setsid), so it has no controlling terminal to prompt on,
    /// whether or not the test runner has one.
    func runWithoutTerminal(_ args: String..., env extra: [String: String?] = [:]) -> Result {
        run(args, stdin: nil, env: extra, withoutTerminal: true)
    }

    func run(_ args: [String], stdin: Data?, env extra: [String: String?] = [:], withoutTerminal: Bool = false) -> Result {
        let p = Process()
        let argv = (withoutTerminal ? ["/usr/bin/setsid", "--wait"] : []) + prefix + [bin] + args
        p.executableURL = URL(fileURLWithPath: argv[0])
        p.arguments = Array(argv.dropFirst())
        var e = env
        for (k, v) in extra { e[k] = v }
        p.environment = e
        let outPipe = Pipe(), errPipe = Pipe()
        p.standardOutput = outPipe
        p.standardError = errPipe
        let inPipe = Pipe()
        p.standardInput = stdin == nil ? FileHandle(forReadingAtPath: "/dev/null") : inPipe
        try! p.run()
        if let stdin {
            DispatchQueue.global().async {
                try? inPipe.fileHandleForWriting.write(contentsOf: stdin)
                try? inPipe.fileHandleForWriting.close()
            }
        }
        final class Box: @unchecked Sendable { var data = Data() }
        let errBox = Box()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { errBox.data = errPipe.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let out = outPipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        group.wait()
        let err = errBox.data
        return Result(status: p.terminationStatus, signaled: p.terminationReason == .uncaughtSignal, stdout: out,
                      stderr: String(decoding: err, as: UTF8.self))
    }

    func add(_ name: String, _ token: String, _ flags: String...) throws {
        // Fixtures are often not JWT-shaped ("tok"): the shape check has tests of its own.
        let r = run(["add", name] + flags + (CLI.looksLikeKey(token) ? [] : ["--force"]), stdin: Data(token.utf8))
        guard r.status == 0 else { throw SetupError("add failed: \(r)") }
    }

    /// The shape `add` and `rotate` accept without --force: eyJ…, three base64url parts.
    static func looksLikeKey(_ token: String) -> Bool {
        let t = token.trimmingCharacters(in: .whitespacesAndNewlines)
        return t.range(of: #"^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"#, options: .regularExpression) != nil
    }

    /// Everything but the audit log: proves a failed command changed no token or key.
    func snapshot() throws -> [Row] {
        let q = try DatabaseQueue(path: vaultPath, configuration: { var c = Configuration(); c.readonly = true; return c }())
        defer { try? q.close() }
        return try q.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM vault_header") + Row.fetchAll(db, sql: "SELECT * FROM tokens ORDER BY id")
                + Row.fetchAll(db, sql: "SELECT * FROM token_versions ORDER BY token_id, version")
        }
    }

    func sql(_ statement: String) throws {
        let q = try DatabaseQueue(path: vaultPath)
        try q.write { db in try db.execute(sql: statement) }
        try q.close()
    }

    /// The first column of every row of a query, as text (read-only).
    func rows(_ query: String) throws -> [String] {
        let q = try DatabaseQueue(path: vaultPath, configuration: { var c = Configuration(); c.readonly = true; return c }())
        defer { try? q.close() }
        return try q.read { db in try String.fetchAll(db, sql: query) }
    }

    /// The audit rows of one action. A failing `vault audit` is a test failure, never "no rows":
    /// otherwise an `.isEmpty` check would pass because the audit command itself broke.
    func audit(action: String, sourceLocation: SourceLocation = #_sourceLocation) -> [[String: Any]] {
        let r = run("audit", "--action", action, "--json")
        guard r.status == 0, let rows = (try? JSONSerialization.jsonObject(with: r.stdout)) as? [[String: Any]] else {
            Issue.record("vault audit --action \(action) --json failed: \(r)", sourceLocation: sourceLocation)
            return []
        }
        return rows
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: dir) }
}

/// A date `days` from now as YYYY-MM-DD (UTC), for out-of-process expiry tests.
func day(_ days: Int) -> String {
    let f = DateFormatter()
    f.dateFormat = "yyyy-MM-dd"
    f.timeZone = TimeZone(identifier: "UTC")
    f.locale = Locale(identifier: "en_US_POSIX")
    return f.string(from: Date().addingTimeInterval(Double(days) * 86400 + 3600))
}

/// Runs any program (not the vault binary) and returns its exit status and stdout; stderr is
/// discarded. For helpers: keyctl, sh, bash.
@discardableResult
func runProgram(_ path: String, _ args: [String], env: [String: String]? = nil, stdin: Data? = nil) -> (status: Int32, out: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    if let env { p.environment = env }
    let out = Pipe(), inp = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle(forWritingAtPath: "/dev/null")
    p.standardInput = stdin == nil ? FileHandle(forReadingAtPath: "/dev/null") : inp
    try! p.run()
    if let stdin {
        inp.fileHandleForWriting.write(stdin)
        try? inp.fileHandleForWriting.close()
    }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}
