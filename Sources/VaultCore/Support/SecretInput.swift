import Foundation
#if canImport(Glibc)
import Glibc
#endif
import VaultFormat

/// Where the passphrase comes from, in order of precedence (README, "Passphrase").
public enum PassphraseSource: Equatable, Sendable {
    case fd(Int32)
    case file(String)
    /// The value of this environment variable (V1VAULT_PASSPHRASE).
    case environment(String)
    /// A hidden prompt on the controlling terminal (/dev/tty).
    case terminal
    /// A systemd credential file (`$CREDENTIALS_DIRECTORY/v1vault-passphrase`).
    case credential(String)

    /// The systemd credential v1vault reads (LoadCredential=, LoadCredentialEncrypted=).
    public static let credentialName = "v1vault-passphrase"

    /// Picks the source from flags and the environment: --passphrase-fd, --passphrase-file,
    /// the systemd credential `$CREDENTIALS_DIRECTORY/v1vault-passphrase` when it exists,
    /// $V1VAULT_PASSPHRASE_FILE, $V1VAULT_PASSPHRASE, then the terminal.
    public static func resolve(fd: Int32?, file: String?, environment: [String: String]) -> PassphraseSource {
        if let fd { return .fd(fd) }
        if let file { return .file(file) }
        if let dir = environment["CREDENTIALS_DIRECTORY"], dir.hasPrefix("/") {
            let path = dir + "/" + credentialName
            if access(path, F_OK) == 0 { return .credential(path) }
        }
        if let f = environment["V1VAULT_PASSPHRASE_FILE"], !f.isEmpty { return .file(f) }
        if environment["V1VAULT_PASSPHRASE"] != nil { return .environment("V1VAULT_PASSPHRASE") }
        return .terminal
    }

    /// Throws unless `fd` is an open descriptor. Call it before opening anything (the CLI does
    /// while parsing), so the number cannot name a descriptor v1vault opened itself.
    public static func checkInherited(fd: Int32) throws(VaultError) {
        let inherited = inheritedDescriptors.map { $0.contains(fd) } ?? true
        guard fd >= 0, inherited, fcntl(fd, F_GETFD) >= 0 else {
            throw .passphraseUnavailable(reason: "file descriptor \(fd) is not open", hint: "open it in the shell, e.g. --passphrase-fd 3 3<file")
        }
    }

    /// The descriptors open when the process started (`recordInheritedDescriptors`); nil when
    /// never recorded (library use), in which case any open descriptor is accepted.
    nonisolated(unsafe) static var inheritedDescriptors: Set<Int32>?

    /// Records which descriptors the caller passed in. The CLI calls it first thing, so
    /// `--passphrase-fd N` can never name a descriptor v1vault opened itself (the database).
    public static func recordInheritedDescriptors() {
        inheritedDescriptors = Descriptors.open().map(Set.init)
    }

    /// Reads the passphrase into secure memory. From a file or fd one trailing newline is
    /// stripped. `confirm` asks twice on a terminal (used by `init` and `passwd`).
    public func read(prompt: String = "Vault passphrase: ", confirm: Bool = false) throws(VaultError) -> SecureBytes {
        let p: SecureBytes
        switch self {
        case .fd(let fd):
            try Self.checkInherited(fd: fd)
            p = try SecretInput.readAll(fd: fd, max: Passphrase.maxBytes, what: "passphrase", stripNewline: true)
            // Closed once read, so nothing started later (`vault exec`'s command) can read the
            // rest of its source. 0–2 stay: they are the caller's stdio.
            if fd > 2 { close(fd) }
        case .file(let path):
            p = try SecretInput.readPassphraseFile(path)
        case .credential(let path):
            p = try SecretInput.readPassphraseFile(path, credential: true)
        case .environment(let name):
            guard let value = getenv(name) else { throw .passphraseUnavailable(reason: "\(name) is not set", hint: nil) }
            let len = strlen(value)
            guard len <= Passphrase.maxBytes else { throw .passphraseInvalid(reason: "longer than \(Passphrase.maxBytes) bytes") }
            p = SecureBytes(copying: UnsafeRawBufferPointer(start: value, count: len))
        case .terminal:
            let tty = try Terminal.open()
            // Every prompt under one hold of the terminal, so no other prompt comes between and
            // echo stays off from the first to the last.
            try tty.beginHold()
            defer { tty.endHold() }
            p = confirm ? try Self.newOnTerminal(tty, prompt: prompt)
                        : try tty.readHidden(prompt: prompt, max: Passphrase.maxBytes, what: "passphrase")
        }
        try Passphrase.validate(p)
        return p
    }
}

extension PassphraseSource {
    /// A new passphrase at the terminal (`init`, `passwd`, `rekey`): an empty one is refused at
    /// once, a weak one (`Passphrase.weakness`) must be confirmed, and a typo in the repeat asks
    /// for both again — three rounds in all, then `passphraseMismatch` (exit 4).
    static func newOnTerminal(_ tty: Terminal, prompt: String) throws(VaultError) -> SecureBytes {
        var round = 1
        while true {
            let first = try tty.readHidden(prompt: prompt, max: Passphrase.maxBytes, what: "passphrase")
            if first.isEmpty {
                tty.write("the passphrase cannot be empty\n")
                continue
            }
            if let weak = Passphrase.weakness(first) {
                tty.write("warning: this passphrase is weak (\(weak)); the vault is only as safe as it is\n")
                guard try tty.confirm("Use it anyway?") else { continue }
            }
            let second = try tty.readHidden(prompt: "Repeat passphrase: ", max: Passphrase.maxBytes, what: "passphrase")
            if first.constantTimeEquals(second) { return first }
            guard round < 3 else { throw .passphraseMismatch }
            round += 1
            tty.write("the passphrases do not match; try again\n")
        }
    }
}

/// Reading secrets from descriptors, files and the terminal straight into secure memory.
public enum SecretInput {
    /// How many times an empty paste at the terminal is asked for, in all.
    public static let tokenTries = 3

    /// Reads a token for `add`/`rotate`: from a hidden prompt when stdin is a TTY, otherwise
    /// all of stdin. What a paste commonly brings along — surrounding whitespace and line
    /// breaks, a leading `Bearer ` copied from a header — is stripped, and `stripped` says
    /// which (for a note on stderr); the rest is validated by `TokenInput`. At the terminal an
    /// empty paste asks again, `tokenTries` in all, then throws `invalidToken` (empty input).
    public static func readToken(prompt: String = "Paste the Vision One API key (input hidden): ",
                                 stripped: inout [String]) throws(VaultError) -> SecureBytes {
        let max = TokenInput.maxBytes + 256  // room for what is stripped
        guard isatty(0) == 1 else {
            let token = TokenInput.trimmed(try readAll(fd: 0, max: max, what: "token", stripNewline: true), stripped: &stripped)
            try TokenInput.validate(token)
            return token
        }
        let tty = try Terminal.open()
        try tty.beginHold()
        defer { tty.endHold() }
        var attempt = 1
        while true {
            stripped = []
            let token = TokenInput.trimmed(try tty.readHidden(prompt: prompt, max: max, what: "token"), stripped: &stripped)
            if token.isEmpty && attempt < tokenTries {
                tty.write("nothing was pasted; try again (\(tokenTries - attempt) left)\n")
                attempt += 1
                continue
            }
            try TokenInput.validate(token)
            return token
        }
    }

    /// The error for input over its limit, worded for what was being read.
    static func tooLong(_ what: String, max: Int) -> VaultError {
        switch what {
        case "token": return .invalidToken(reason: "longer than 16 KiB")
        case "import": return .invalidInput(reason: "input is larger than \(ByteSize.format(UInt64(max)))", hint: nil)
        default: return .passphraseInvalid(reason: "longer than \(max) bytes")
        }
    }

    /// `readAll` from a terminal on `fd` (`vault import -` typed or pasted at a shell): echo off
    /// while reading (line editing and Ctrl-D still work), restored with TCSAFLUSH on every exit
    /// path and on a fatal signal, so pasted keys are never shown. Not a terminal: `readAll`.
    /// `announce` (the prompt) runs once echo is off: shown before, a paste sent as soon as it
    /// appears could arrive while echo is still on.
    public static func readAllHidingEcho(fd: Int32, max: Int, what: String, announce: () -> Void = {}) throws(VaultError) -> SecureBytes {
        var original = termios()
        guard isatty(fd) == 1, tcgetattr(fd, &original) == 0 else {
            return try readAll(fd: fd, max: max, what: what, stripNewline: false)
        }
        var quiet = original
        quiet.c_lflag &= ~tcflag_t(ECHO | ECHONL)
        Interrupt.guardTerminal(fd: fd, saved: original, active: quiet)
        tcsetattr(fd, TCSANOW, &quiet)
        defer {
            tcsetattr(fd, TCSAFLUSH, &original)
            Interrupt.releaseTerminal()
        }
        announce()
        return try readAll(fd: fd, max: max, what: what, stripNewline: false)
    }

    /// Reads up to `max` bytes (more is an error) from `fd` into secure memory.
    public static func readAll(fd: Int32, max: Int, what: String, stripNewline: Bool) throws(VaultError) -> SecureBytes {
        // Room for max bytes, an optional CR LF, and one byte to detect overflow; start small and
        // double, so a large limit does not mean a large allocation.
        let limit = max + 3
        var buf = SecureBytes(capacity: min(limit, 64 * 1024), empty: true)
        var chunk = SecureBytes(capacity: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(reason: "cannot read the \(what): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            if buf.count + n > limit {
                throw SecretInput.tooLong(what, max: max)
            }
            if buf.count + n > buf.capacity {
                var bigger = SecureBytes(capacity: Swift.min(limit, Swift.max(buf.capacity * 2, buf.count + n)), empty: true)
                bigger.append(buf)
                buf = bigger
            }
            chunk.withUnsafeBytes { buf.append(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        if stripNewline, buf.count > 0, buf[buf.count - 1] == 0x0A { buf.removeLast() }
        if buf.count > max {
            throw SecretInput.tooLong(what, max: max)
        }
        return buf
    }

    /// Reads a passphrase file, refusing one that other users can read (like ssh keys).
    /// A systemd credential (`credential`) may show group read: on kernels ≥ 6.3 systemd
    /// grants the unit's user read access with an ACL, whose mask appears as the group bits
    /// (mode 0440) on a read-only mount. It must still be unwritable and closed to others.
    public static func readPassphraseFile(_ path: String, credential: Bool = false) throws(VaultError) -> SecureBytes {
        var st = stat()
        guard stat(path, &st) == 0 else {
            let reason = errno == ENOENT ? "passphrase file \(path) does not exist" : "cannot read passphrase file \(path): \(String(cString: strerror(errno)))"
            throw .passphraseUnavailable(reason: reason, hint: nil)
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            throw .passphraseUnavailable(reason: "passphrase file \(path) is a directory", hint: nil)
        }
        // Regular files, FIFOs and sockets alike: a 0666 FIFO lets anyone feed or steal it.
        // (Character devices such as a terminal are left alone.)
        let refused: mode_t = credential ? 0o227 : 0o077  // credential: no write bits, nothing for others
        if (st.st_mode & S_IFMT) != S_IFCHR, st.st_mode & refused != 0 {
            // A credential names its own rule: read-only (chmod 600 would still be refused).
            if credential { throw .insecureCredential(path: path, mode: UInt16(st.st_mode & 0o777)) }
            throw .insecurePermissions(path: path, mode: UInt16(st.st_mode & 0o777))
        }
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw .passphraseUnavailable(reason: "cannot read passphrase file \(path): \(String(cString: strerror(errno)))", hint: nil)
        }
        defer { close(fd) }
        return try readAll(fd: fd, max: Passphrase.maxBytes, what: "passphrase", stripNewline: true)
    }
}

/// The controlling terminal, for hidden prompts and confirmations. Prompts go to /dev/tty,
/// never stdout, so `vault … > file` stays clean.
public final class Terminal {
    let fd: Int32
    /// The terminal device itself (/dev/pts/N), flocked exclusively while a prompt runs: two
    /// `vault` processes prompting on one terminal at once (`vault export a | vault add b`) take
    /// turns, so neither reads the other's keystrokes nor saves the other's echo-off state as
    /// "the state to restore". Held only during prompts and the KDF runs between them (a hold,
    /// `beginHold`) — `add` holding it while it waits for its token on a pipe from `export`
    /// would deadlock the pair, so a hold begins at a prompt, never before.
    let lockFD: Int32
    private var lockDepth = 0
    /// The terminal's settings from before the open hold (`beginHold`), to put back at its end;
    /// nil while no hold is open.
    private var saved: termios?
    private var holdDepth = 0
    /// Whether this object holds an extra level of its hold for the enclosing prompt span.
    private var spanHold = false

    private init(fd: Int32, lockFD: Int32) { self.fd = fd; self.lockFD = lockFD }
    deinit {
        close(fd)
        if lockFD >= 0 { close(lockFD) }
    }

    // MARK: - Prompt spans

    nonisolated(unsafe) private static var spanDepth = 0
    nonisolated(unsafe) private static var spanTerminal: Terminal?

    /// Starts a prompt span: every prompt until the matching `endPromptSpan` — and whatever
    /// runs between them, such as the KDF after a passphrase — is one hold of the terminal
    /// (`beginHold`): echo goes off at the first prompt and comes back only at the end of the
    /// span, so a key pasted while the KDF runs is never shown, and what was typed but not read
    /// is discarded then. A span in which nothing prompts leaves the terminal alone (so `add`
    /// reading its key from a pipe never holds the terminal while it waits). Spans nest.
    public static func beginPromptSpan() { spanDepth += 1 }

    /// Ends a prompt span (see `beginPromptSpan`), restoring the terminal if a prompt held it.
    public static func endPromptSpan() {
        spanDepth -= 1
        guard spanDepth == 0, let t = spanTerminal else { return }
        spanTerminal = nil
        if t.spanHold {
            t.spanHold = false
            t.endHold()
        }
    }

    /// Runs `body` as one prompt span (`beginPromptSpan`).
    public static func promptSpan<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        beginPromptSpan()
        defer { endPromptSpan() }
        return try body()
    }

    // MARK: - Opening and holding

    /// Opens /dev/tty (within a prompt span, the span's one); throws `passphraseUnavailable`
    /// when there is no controlling terminal.
    public static func open() throws(VaultError) -> Terminal {
        if spanDepth > 0, let t = spanTerminal { return t }
        let t = try openNew()
        if spanDepth > 0 { spanTerminal = t }
        return t
    }

    private static func openNew() throws(VaultError) -> Terminal {
        let fd = Glibc.open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else {
            throw .passphraseUnavailable(reason: "no terminal to prompt on and no passphrase source given",
                                         hint: "use --passphrase-file PATH, --passphrase-fd N or V1VAULT_PASSPHRASE_FILE")
        }
        // /dev/tty is one node for every terminal; lock the device this one really is.
        let lockFD = controllingDevice().map { Glibc.open($0, O_RDONLY | O_NOCTTY | O_CLOEXEC) } ?? -1
        return Terminal(fd: fd, lockFD: lockFD)
    }

    /// The path of the controlling terminal's device (/dev/pts/N or /dev/ttyN), from the
    /// `tty_nr` field of /proc/self/stat, checked against the node's device number; nil if
    /// unknown (then prompts are not serialised). ttyname() on a descriptor opened through
    /// /dev/tty returns "/dev/tty", which would serialise every terminal of the machine.
    static func controllingDevice() -> String? {
        guard let text = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 4, let nr = UInt32(fields[4]), nr != 0 else { return nil }
        let major = (nr >> 8) & 0xfff, minor = (nr & 0xff) | ((nr >> 12) & 0xfff00)
        let candidates = (136...143).contains(major) ? ["/dev/pts/\((major - 136) * 256 + minor)"] : ["/dev/tty\(minor)", "/dev/ttyS\(minor)"]
        for path in candidates {
            var st = stat()
            if stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFCHR {
                let rdev = UInt64(st.st_rdev)  // glibc's encoding of major/minor in dev_t
                let maj = UInt32(truncatingIfNeeded: ((rdev >> 8) & 0xfff) | ((rdev >> 32) & ~UInt64(0xfff)))
                let min = UInt32(truncatingIfNeeded: (rdev & 0xff) | ((rdev >> 12) & ~UInt64(0xff)))
                if maj == major && min == minor { return path }
            }
        }
        return nil
    }

    /// Runs `body` holding the terminal's prompt lock (re-entrant within this object); says so
    /// on the terminal if another process holds it.
    public func exclusive<T: ~Copyable>(_ body: () throws(VaultError) -> T) throws(VaultError) -> T {
        lock()
        defer { unlock() }
        return try body()
    }

    private func lock() {
        if lockFD >= 0 && lockDepth == 0 {
            if flock(lockFD, LOCK_EX | LOCK_NB) != 0 {
                write("(waiting for another vault prompt on this terminal)\n")
                while flock(lockFD, LOCK_EX) != 0 && errno == EINTR {}
            }
        }
        lockDepth += 1
    }

    private func unlock() {
        lockDepth -= 1
        if lockFD >= 0 && lockDepth == 0 { flock(lockFD, LOCK_UN) }
    }

    /// Opens a hold of the terminal until the matching `endHold`: the prompt lock is taken and
    /// echo is off throughout — during the prompts and between them — so nothing typed or
    /// pasted is shown; a fatal signal puts the settings back (`Interrupt`). Holds nest (the
    /// outermost counts); the first within a prompt span lasts until the span ends.
    public func beginHold() throws(VaultError) {
        if holdDepth == 0 {
            lock()
            var original = termios()
            guard tcgetattr(fd, &original) == 0 else {
                unlock()
                throw .io(reason: "cannot configure the terminal")
            }
            var between = Self.withoutEcho(original)
            Interrupt.guardTerminal(fd: fd, saved: original, active: between)
            tcsetattr(fd, TCSANOW, &between)
            saved = original
            if Terminal.spanDepth > 0 && Terminal.spanTerminal === self && !spanHold {
                spanHold = true
                holdDepth += 1
            }
        }
        holdDepth += 1
    }

    /// The state between the prompts of a hold: the terminal's own settings, echo off.
    private static func withoutEcho(_ settings: termios) -> termios {
        var t = settings
        t.c_lflag &= ~tcflag_t(ECHO | ECHONL)
        return t
    }

    /// Closes a hold (`beginHold`); the outermost puts the terminal's settings back, discarding
    /// what was typed and not read (a key pasted while the KDF ran must not reach the shell).
    public func endHold() {
        holdDepth -= 1
        guard holdDepth == 0, var original = saved else { return }
        tcsetattr(fd, TCSAFLUSH, &original)
        Interrupt.releaseTerminal()
        saved = nil
        unlock()
    }

    public static var stdinIsTerminal: Bool { isatty(0) == 1 }

    func write(_ s: String) {
        var s = s
        s.withUTF8 { p in _ = Glibc.write(fd, p.baseAddress, p.count) }
    }

    /// Reads one line with echo off. Handles backspace and Ctrl-U itself; Ctrl-C and Ctrl-D on an
    /// empty line cancel (`cancelled`), leaving the terminal as it was.
    /// Type-ahead — whatever was typed or pasted before the prompt appeared — is discarded
    /// first, so it is never taken as the answer.
    public func readHidden(prompt: String, max: Int, what: String) throws(VaultError) -> SecureBytes {
        try beginHold()
        defer { endHold() }
        guard let original = saved else { throw .io(reason: "cannot configure the terminal") }
        var raw = original
        raw.c_lflag &= ~tcflag_t(ECHO | ECHONL | ICANON | ISIG)
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        Interrupt.activeTerminal(raw)
        tcsetattr(fd, TCSANOW, &raw)
        defer {
            // Back to the hold's state: echo stays off until the hold ends; Ctrl-C works again.
            var between = Self.withoutEcho(original)
            Interrupt.activeTerminal(between)
            tcsetattr(fd, TCSANOW, &between)
            write("\n")
        }
        tcflush(fd, TCIFLUSH)
        write(prompt)
        var buf = SecureBytes(capacity: max, empty: true)
        var tooLong = false
        var byte: UInt8 = 0
        defer { byte = 0 }
        loop: while true {
            let n = Glibc.read(fd, &byte, 1)
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(reason: "cannot read from the terminal")
            }
            if n == 0 { throw .cancelled(reason: "end of input at the \(what) prompt") }
            switch byte {
            case 0x03: throw .cancelled(reason: "interrupted at the \(what) prompt")
            case 0x04:
                if buf.isEmpty { throw .cancelled(reason: "end of input at the \(what) prompt") }
            case 0x0A, 0x0D: break loop
            case 0x7F, 0x08: if !buf.isEmpty { buf.removeLast() }
            case 0x15: buf.removeLast(buf.count); tooLong = false
            default:
                if buf.count < buf.capacity { buf.append(byte) } else { tooLong = true }
            }
        }
        if tooLong {
            throw SecretInput.tooLong(what, max: max)
        }
        return buf
    }

    /// Asks a yes/no question with echo on; only `y` or `yes` confirms.
    public func confirm(_ question: String) throws(VaultError) -> Bool {
        try exclusive { () throws(VaultError) -> Bool in try confirmLocked(question) }
    }

    func confirmLocked(_ question: String) throws(VaultError) -> Bool {
        // Within a hold (between hidden prompts) the answer is shown while it is typed, and
        // nothing typed before the question answers it.
        if var original = saved {
            tcflush(fd, TCIFLUSH)
            Interrupt.activeTerminal(original)
            tcsetattr(fd, TCSANOW, &original)
        }
        defer {
            if let original = saved {
                var between = Self.withoutEcho(original)
                Interrupt.activeTerminal(between)
                tcsetattr(fd, TCSAFLUSH, &between)
            }
        }
        write(question + " [y/N] ")
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while line.count < 64 {
            let n = Glibc.read(fd, &byte, 1)
            if n < 0, errno == EINTR { continue }
            if n <= 0 { throw .cancelled(reason: "end of input at the confirmation prompt") }
            if byte == 0x0A { break }
            line.append(byte)
        }
        let answer = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespaces).lowercased()
        return answer == "y" || answer == "yes"
    }
}
