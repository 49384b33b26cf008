import Foundation
import Testing

/// The package installs the binary as `v1vault`; invoked so, every message that names a
/// command says `v1vault`, so a suggested command is one the user can paste.
@Suite("messages use the name the binary was invoked by: v1vault or vault (out of process)")
struct ProgramNameCLITests {
    /// Runs the binary through a symlink called `name`.
    func run(_ c: CLI, as name: String, _ args: [String]) throws -> CLI.Result {
        let link = c.dir + "/bin/" + name
        if !FileManager.default.fileExists(atPath: link) {
            try FileManager.default.createDirectory(atPath: c.dir + "/bin", withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: CLI.binary)
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: link)
        p.arguments = args
        p.environment = c.env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        try p.run()
        // stderr on another thread: a large stdout (the help dump) must not block on a full pipe.
        final class Box: @unchecked Sendable { var data = Data() }
        let errBox = Box(), done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async { errBox.data = err.fileHandleForReading.readDataToEndOfFile(); done.signal() }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        done.wait()
        let errData = errBox.data
        p.waitUntilExit()
        return CLI.Result(status: p.terminationStatus, signaled: false, stdout: outData, stderr: String(decoding: errData, as: UTF8.self))
    }

    @Test("as v1vault: help, the help dump, hints, did-you-mean and notes all say v1vault", arguments: ["v1vault", "vault"])
    func spelled(name: String) throws {
        let other = name == "v1vault" ? "vault" : "v1vault"
        let c = try CLI()
        defer { c.cleanup() }
        var seen: [String] = []
        func check(_ args: [String], status: Int32, stdout: String? = nil, stderr: String? = nil) throws {
            let r = try run(c, as: name, args)
            #expect(r.status == status, "\(args): \(r)")
            if let stdout { #expect(r.out.contains(stdout), "\(args): \(r.out)") }
            if let stderr { #expect(r.stderr.contains(stderr), "\(args): \(r.stderr)") }
            seen.append(r.out + r.stderr)
        }
        try check(["init", "--kdf-memory", "8M", "--kdf-ops", "1"], status: 0, stderr: "next: `\(name) add NAME`")
        try c.add("siem", "eyJ.s.s")
        try check(["--help"], status: 0, stdout: "USAGE: \(name) [--vault <path>]")
        try check(["--help"], status: 0, stdout: "(`\(name) add`)")
        try check(["exec", "siem", "env"], status: 64, stderr: "hint: put -- before the command: `\(name) exec siem -- env`")
        try check(["exec"], status: 64, stderr: "hint: \(name) exec NAME… -- COMMAND [ARGS…]")
        try check(["show", "sime"], status: 9, stderr: "(`\(name) list` shows the stored names)")
        try check(["lst"], status: 64, stderr: "hint: did you mean `\(name) list`?")
        try check(["show", "siem", "--version", "1"], status: 64, stderr: "(use `\(name) history NAME`")
        try check(["status"], status: 18, stdout: "(`\(name) unlock` starts one)")
        try check(["--experimental-dump-help"], status: 0, stdout: "\"abstract\"")
        for sub in ["passwd", "renew", "restore", "unlock", "manager", "rekey"] {
            try check([sub, "--help"], status: 0, stdout: "USAGE: \(name) \(sub)")
        }
        let wrong = seen.filter { $0.contains("`\(other) ") || $0.contains("`\(other)\n") }
        #expect(seen.count == 16 && wrong.isEmpty, "\(wrong)")
    }
}
