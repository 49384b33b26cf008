import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where the passphrase comes from, in order of precedence (README, "Passphrase").
public enum PassphraseSource: Equatable, Sendable {
    case fd(Int32)
    case file(String)
    /// The value of this environment variable (V1VAULT_PASSPHRASE).
    case environment(String)
    /// A hidden prompt on the controlling terminal (/dev/tty).
    case terminal

    /// Picks the source from flags and the environment: --passphrase-fd, --passphrase-file,
    /// $V1VAULT_PASSPHRASE_FILE, $V1VAULT_PASSPHRASE, then the terminal.
    public static func resolve(fd: Int32?, file: String?, environment: [String: String]) -> PassphraseSource {
        if let fd { return .fd(fd) }
        if let file { return .file(file) }
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
        case .environment(let name):
            guard let value = getenv(name) else { throw .passphraseUnavailable(reason: "\(name) is not set", hint: nil) }
            let len = strlen(value)
            guard len <= Passphrase.maxBytes else { throw .passphraseInvalid(reason: "longer than \(Passphrase.maxBytes) bytes") }
            p = SecureBytes(copying: UnsafeRawBufferPointer(start: value, count: len))
        case .terminal:
            let tty = try Terminal.open()
            let first = try tty.readHidden(prompt: prompt, max: Passphrase.maxBytes, what: "passphrase")
            if confirm {
                let second = try tty.readHidden(prompt: "Repeat passphrase: ", max: Passphrase.maxBytes, what: "passphrase")
                guard first.constantTimeEquals(second) else { throw .passphraseMismatch }
            }
            p = first
        }
        try Passphrase.validate(p)
        return p
    }
}

/// Reading secrets from descriptors, files and the terminal straight into secure memory.
public enum SecretInput {
    /// Reads a token for `add`/`rotate`: from a hidden terminal prompt when stdin is a TTY,
    /// otherwise all of stdin (one trailing newline stripped). Validated by `TokenInput`.
    public static func readToken(prompt: String = "Paste the Vision One API key (input hidden): ") throws(VaultError) -> SecureBytes {
        let token: SecureBytes
        if isatty(0) == 1 {
            token = try Terminal.open().readHidden(prompt: prompt, max: TokenInput.maxBytes, what: "token")
        } else {
            token = try readAll(fd: 0, max: TokenInput.maxBytes, what: "token", stripNewline: true)
        }
        try TokenInput.validate(token)
        return token
    }

    /// The error for input over its limit, worded for what was being read.
    static func tooLong(_ what: String, max: Int) -> VaultError {
        switch what {
        case "token": return .invalidToken(reason: "longer than 16 KiB")
        case "import": return .invalidInput(reason: "input is larger than \(ByteSize.format(UInt64(max)))", hint: nil)
        default: return .passphraseInvalid(reason: "longer than \(max) bytes")
        }
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
    public static func readPassphraseFile(_ path: String) throws(VaultError) -> SecureBytes {
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
        if (st.st_mode & S_IFMT) != S_IFCHR, st.st_mode & 0o077 != 0 {
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

    private init(fd: Int32) { self.fd = fd }
    deinit { close(fd) }

    /// Opens /dev/tty; throws `passphraseUnavailable` when there is no controlling terminal.
    public static func open() throws(VaultError) -> Terminal {
        let fd = Glibc.open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else {
            throw .passphraseUnavailable(reason: "no terminal to prompt on and no passphrase source given",
                                         hint: "use --passphrase-file PATH, --passphrase-fd N or V1VAULT_PASSPHRASE_FILE")
        }
        return Terminal(fd: fd)
    }

    public static var stdinIsTerminal: Bool { isatty(0) == 1 }

    func write(_ s: String) {
        var s = s
        s.withUTF8 { p in _ = Glibc.write(fd, p.baseAddress, p.count) }
    }

    /// Reads one line with echo off. Handles backspace and Ctrl-U itself; Ctrl-C and Ctrl-D on an
    /// empty line cancel (`cancelled`), leaving the terminal as it was.
    public func readHidden(prompt: String, max: Int, what: String) throws(VaultError) -> SecureBytes {
        var saved = termios()
        guard tcgetattr(fd, &saved) == 0 else { throw .io(reason: "cannot configure the terminal") }
        var raw = saved
        raw.c_lflag &= ~tcflag_t(ECHO | ICANON | ISIG)
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        tcsetattr(fd, TCSAFLUSH, &raw)
        defer {
            var restore = saved
            tcsetattr(fd, TCSAFLUSH, &restore)
            write("\n")
        }
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
