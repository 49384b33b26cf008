import Foundation
import VaultFormat

/// How `vault copy` reaches a clipboard.
public enum ClipboardMethod: String, CaseIterable, Sendable {
    /// `ESC ] 52 ; c ; <base64> BEL` written to the controlling terminal (/dev/tty): the
    /// terminal emulator sets its clipboard, over SSH and (configured) tmux too.
    case osc52
    /// wl-clipboard's `wl-copy` (Wayland).
    case wlCopy = "wl-copy"
    /// `xclip -selection clipboard` (X11).
    case xclip
}

/// Where a copy goes: the method, and what it needs (the tool's path, or /dev/tty open).
public struct ClipboardTarget: ~Copyable {
    public let method: ClipboardMethod
    /// The tool's absolute path (wl-copy, xclip).
    let tool: String?
    /// /dev/tty opened for writing (OSC 52), closed on deinit.
    let tty: Int32?

    deinit { if let tty { close(tty) } }
}

/// Puts a secret on a clipboard and clears it later; see SECURITY.md, "Copying to the clipboard".
public enum Clipboard {
    /// `--clear` default, in seconds.
    public static let defaultClearSeconds = 45

    /// The sequence OSC 52 clears with: an empty selection.
    static let osc52Clear = Array("\u{1B}]52;c;\u{07}".utf8)

    // MARK: - Choosing

    /// The method `forced`, or the first that works here: wl-copy (WAYLAND_DISPLAY set and
    /// wl-copy on PATH), xclip (DISPLAY set and xclip on PATH), then OSC 52 (a terminal other
    /// than TERM=dumb). A desktop tool comes first because it can be read back, so its
    /// clearing leaves alone what the user copied since; OSC 52 cannot. Throws
    /// `clipboardUnavailable` naming why each method is out, before anything is revealed.
    public static func target(forced: ClipboardMethod?, environment env: [String: String]) throws(VaultError) -> ClipboardTarget {
        var reasons: [String] = []
        for method in forced.map({ [$0] }) ?? [.wlCopy, .xclip, .osc52] {
            switch method {
            case .wlCopy, .xclip:
                let (display, tool) = method == .wlCopy ? ("WAYLAND_DISPLAY", "wl-copy") : ("DISPLAY", "xclip")
                guard !(env[display] ?? "").isEmpty else { reasons.append("\(display) is not set (\(tool))"); continue }
                guard let path = executable(tool, path: env["PATH"]) else { reasons.append("\(tool) is not installed (not on PATH)"); continue }
                return ClipboardTarget(method: method, tool: path, tty: nil)
            case .osc52:
                let term = env["TERM"] ?? ""
                // Forced, a terminal that TERM does not describe still gets the sequence.
                if forced == nil, term.isEmpty || term == "dumb" {
                    reasons.append(term.isEmpty ? "TERM is not set (OSC 52)" : "TERM=dumb cannot take OSC 52")
                    continue
                }
                let fd = open("/dev/tty", O_WRONLY | O_NOCTTY | O_CLOEXEC)
                guard fd >= 0 else { reasons.append("no terminal for OSC 52 (cannot open /dev/tty)"); continue }
                return ClipboardTarget(method: .osc52, tool: nil, tty: fd)
            }
        }
        throw .clipboardUnavailable(reason: reasons.joined(separator: ", "), forced: forced?.rawValue)
    }

    /// `name` found in `path` (an absolute name as it is), if executable.
    static func executable(_ name: String, path: String?) -> String? {
        for dir in (path ?? "").split(separator: ":") where dir.hasPrefix("/") {
            let candidate = "\(dir)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    // MARK: - Copying

    /// Puts `secret` on the clipboard: OSC 52 written to the terminal, or the tool's stdin
    /// (never its argv, never a file of v1vault's). Throws `io` when the tool fails.
    public static func copy(_ secret: borrowing SecureBytes, to target: borrowing ClipboardTarget) throws(VaultError) {
        switch target.method {
        case .osc52:
            let encoded = secret.base64()
            var sequence = SecureBytes(capacity: encoded.count + 9, empty: true)
            sequence.append("\u{1B}]52;c;")
            sequence.append(encoded)
            sequence.append(0x07)
            try writeAll(sequence, fd: target.tty!, what: "the terminal")
        case .wlCopy:
            // --type: wl-copy would otherwise run xdg-mime on its copy to guess one.
            try runTool(target.tool!, ["--type", "text/plain"], input: secret)
        case .xclip:
            try runTool(target.tool!, ["-selection", "clipboard"], input: secret)
        }
    }

    static func writeAll(_ bytes: borrowing SecureBytes, fd: Int32, what: String) throws(VaultError) {
        let ok = bytes.withUnsafeBytes { buf -> Bool in
            var offset = 0
            while offset < buf.count {
                let n = write(fd, buf.baseAddress! + offset, buf.count - offset)
                if n < 0 { if errno == EINTR { continue }; return false }
                offset += n
            }
            return true
        }
        if !ok { throw .io(reason: "cannot write to \(what): \(String(cString: strerror(errno)))") }
    }

    /// Runs a clipboard tool with `input` on its stdin; stdout and stderr go to /dev/null (it
    /// forks a server that would otherwise hold a pipeline open as long as it serves).
    static func runTool(_ tool: String, _ arguments: [String], input: borrowing SecureBytes) throws(VaultError) {
        var fds: [Int32] = [0, 0]
        guard makePipe(&fds) else { throw .io(reason: "cannot create a pipe: \(String(cString: strerror(errno)))") }
        let pid: pid_t
        do throws(VaultError) {
            pid = try spawn(tool, arguments, stdin: fds[0], stdout: nil, newSession: false)
        } catch {
            close(fds[0]); close(fds[1])
            throw error
        }
        close(fds[0])
        // A tool that exits early must not kill v1vault with SIGPIPE: the write fails instead.
        let previous = signal(SIGPIPE, SIG_IGN)
        var writeError: VaultError?
        do throws(VaultError) { try writeAll(input, fd: fds[1], what: tool) } catch { writeError = error }
        close(fds[1])
        signal(SIGPIPE, previous)
        let status = wait(pid)
        guard status == 0 else { throw .io(reason: "\(tool) failed (\(describe(status))); nothing was copied") }
        if let writeError { throw writeError }
    }

    /// Starts `path` with `arguments` (argv[0] is the path's last component): stdin from `stdin`
    /// (or /dev/null), stdout to `stdout` (or /dev/null), stderr to /dev/null, every other
    /// descriptor closed (marked close-on-exec), and the environment without the vault's
    /// passphrase variables. `newSession`: in a session of its own (setsid), so neither the
    /// terminal's hangup nor its Ctrl-C reaches it.
    static func spawn(_ path: String, _ arguments: [String], stdin: Int32?, stdout: Int32?, newSession: Bool, argv0: String? = nil) throws(VaultError) -> pid_t {
        Exec.closeOnExec()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let stdin { posix_spawn_file_actions_adddup2(&actions, stdin, 0) } else { posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0) }
        if let stdout { posix_spawn_file_actions_adddup2(&actions, stdout, 1) } else { posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0) }
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The signal mask and dispositions a shell would give it.
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGALRM] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        // POSIX_SPAWN_SETSID (glibc 2.26) is a _GNU_SOURCE name Swift does not import.
        if newSession { flags |= 0x80 }
        posix_spawnattr_setflags(&attributes, Int16(flags))
        let argv: [UnsafeMutablePointer<CChar>?] = ([argv0 ?? (path as NSString).lastPathComponent] + arguments).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var envp: [UnsafeMutablePointer<CChar>?] = []
        var p = environ
        while let entry = p.pointee {
            let name = String(cString: entry).split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            if !Exec.isVaultSecretVariable(name) { envp.append(entry) }
            p += 1
        }
        envp.append(nil)
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        guard rc == 0 else { throw .io(reason: "cannot run \(path): \(String(cString: strerror(rc)))") }
        return pid
    }

    /// A pipe with both ends close-on-exec (`pipe2` is not imported into Swift).
    static func makePipe(_ fds: inout [Int32]) -> Bool {
        guard pipe(&fds) == 0 else { return false }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return true
    }

    /// Waits for `pid`; its wait status.
    static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 { if errno != EINTR { return -1 } }
        return status
    }

    static func describe(_ status: Int32) -> String {
        if status & 0x7f == 0 { return "exit \((status >> 8) & 0xff)" }
        return "signal \(status & 0x7f)"
    }

    // MARK: - Clearing

    /// Starts the clearer for `target` and returns at once: `helper` (this binary, re-executed
    /// through /proc/self/exe with the hidden subcommand and its arguments in `arguments`) in a
    /// session of its own. It gets no secret: for OSC 52 only the terminal (as its stdout); for
    /// a tool only `fingerprint` (a random key and the keyed BLAKE2b of the value) on its stdin,
    /// to recognise the value later. Throws `io` (saying the key stays) if it cannot start.
    public static func scheduleClear(_ target: borrowing ClipboardTarget, fingerprint: [UInt8], helper arguments: [String], argv0: String) throws(VaultError) {
        var fds: [Int32] = [0, 0]
        let needsFingerprint = target.method != .osc52
        let stays = "the key is on the clipboard, but it will not be cleared"
        if needsFingerprint, !makePipe(&fds) { throw .io(reason: "\(stays): cannot create a pipe: \(String(cString: strerror(errno)))") }
        let pid: pid_t
        do throws(VaultError) {
            pid = try spawn("/proc/self/exe", arguments, stdin: needsFingerprint ? fds[0] : nil, stdout: target.tty, newSession: true, argv0: argv0)
        } catch {
            if needsFingerprint { close(fds[0]); close(fds[1]) }
            throw .io(reason: "\(stays): \(error)")
        }
        _ = pid  // not waited for: it outlives this process (reparented to init)
        if needsFingerprint {
            close(fds[0])
            // 64 bytes fit in any pipe buffer: this never blocks.
            _ = fingerprint.withUnsafeBytes { write(fds[1], $0.baseAddress!, $0.count) }
            close(fds[1])
        }
    }

    /// The clearer's work, in the re-executed process: waits `seconds`, then clears. OSC 52:
    /// writes the empty selection to stdout (the terminal). A tool: reads the clipboard back
    /// and clears it only if it still holds the value whose fingerprint arrives on stdin.
    /// Never throws: there is no one left to tell. Each tool run is bounded by `alarm`.
    public static func clearLater(method: ClipboardMethod, seconds: Int, environment env: [String: String]) {
        var fingerprint = [UInt8](repeating: 0, count: 2 * KeyedHash.outputBytes)
        if method != .osc52 {
            var got = 0
            while got < fingerprint.count {
                let n = fingerprint.withUnsafeMutableBytes { read(0, $0.baseAddress! + got, $0.count - got) }
                if n < 0, errno == EINTR { continue }
                guard n > 0 else { return }  // no fingerprint: clear nothing
                got += n
            }
        }
        var remaining = UInt32(max(0, seconds))
        while remaining > 0 { remaining = sleep(remaining) }
        // A tool that hangs (an X server gone away) must not keep this process forever.
        alarm(60)
        switch method {
        case .osc52:
            _ = osc52Clear.withUnsafeBytes { write(1, $0.baseAddress!, $0.count) }
        case .wlCopy, .xclip:
            let (reader, readArgs, clearArgs): (String, [String], [String]) = method == .wlCopy
                ? ("wl-paste", ["--no-newline"], ["--clear"])
                : ("xclip", ["-selection", "clipboard", "-o"], ["-selection", "clipboard"])
            guard let readerPath = executable(reader, path: env["PATH"]),
                  let tool = executable(method.rawValue, path: env["PATH"]),
                  var current = try? readBack(readerPath, readArgs) else { return }
            let key = Array(fingerprint[0..<KeyedHash.outputBytes])
            let now = SecureBytes.fingerprint(of: current, key: key)
            current.removeLast(current.count)
            let same = now.withUnsafeBytes { a in fingerprint.withUnsafeBytes { b in Sodium.constantTimeEqual(a, b) } }
            guard same else { return }  // the user copied something else since: leave it
            // xclip with empty input takes the selection (its server holding the key exits);
            // wl-copy --clear clears it.
            if let pid = try? spawn(tool, clearArgs, stdin: nil, stdout: nil, newSession: false) { _ = wait(pid) }
        }
    }

    /// The clipboard's current text into secure memory, at most one byte more than the longest
    /// token v1vault stores (16 KiB): anything that long is not a key it copied.
    static func readBack(_ reader: String, _ arguments: [String]) throws(VaultError) -> SecureBytes {
        var fds: [Int32] = [0, 0]
        guard makePipe(&fds) else { throw .io(reason: "pipe") }
        let pid: pid_t
        do throws(VaultError) { pid = try spawn(reader, arguments, stdin: nil, stdout: fds[1], newSession: false) } catch {
            close(fds[0]); close(fds[1]); throw error
        }
        close(fds[1])
        var out = SecureBytes(capacity: 16 * 1024 + 1, empty: true)
        while out.count < out.capacity {
            let start = out.count
            let n = out.withUnsafeMutableBytes { read(fds[0], $0.baseAddress! + start, $0.count - start) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { break }
            out.setCount(start + n)
        }
        close(fds[0])
        let status = wait(pid)
        guard status == 0 else { throw .io(reason: "\(reader) failed") }
        return out
    }
}
