import Foundation
#if canImport(Glibc)
import Glibc
#endif
import VaultFormat

/// `vault exec`: resolve the command, build the child's environment in secure memory, execve.
public enum Exec {
    /// Finds `command` like execvp: a name with `/` is used as is; otherwise each PATH entry is
    /// tried. Throws `commandNotFound` (127) or `commandNotExecutable` (126).
    public static func resolve(_ command: String, path: String?) throws(VaultError) -> String {
        guard !command.isEmpty else { throw .commandNotFound(command: command) }
        if command.contains("/") { return try check(command) }
        var sawNonExecutable: String?
        for dir in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (dir.isEmpty ? "." : String(dir)) + "/" + command
            var st = stat()
            guard stat(candidate, &st) == 0, (st.st_mode & S_IFMT) != S_IFDIR else { continue }
            if access(candidate, X_OK) == 0 { return candidate }
            sawNonExecutable = candidate
        }
        if let p = sawNonExecutable { throw .commandNotExecutable(command: p, reason: "permission denied") }
        throw .commandNotFound(command: command)
    }

    static func check(_ path: String) throws(VaultError) -> String {
        var st = stat()
        guard stat(path, &st) == 0 else { throw .commandNotFound(command: path) }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw .commandNotExecutable(command: path, reason: "is a directory") }
        guard access(path, X_OK) == 0 else { throw .commandNotExecutable(command: path, reason: "permission denied") }
        return path
    }

    /// Variables kept by --pristine, besides the exported ones.
    public static let pristineKeep: Set<String> = ["PATH", "HOME", "LANG"]

    /// True for variables the child must never see: the vault's own passphrase settings, and
    /// CREDENTIALS_DIRECTORY when it holds v1vault's passphrase credential (a `v1vault` the
    /// child started would otherwise open the vault with it).
    public static func isVaultSecretVariable(_ name: Substring) -> Bool {
        if name.hasPrefix("V1VAULT_PASSPHRASE") { return true }
        if name == "CREDENTIALS_DIRECTORY", let dir = getenv("CREDENTIALS_DIRECTORY") {
            return access(String(cString: dir) + "/" + PassphraseSource.credentialName, F_OK) == 0
        }
        return false
    }

    /// Marks every descriptor above 2 close-on-exec, as sudo does: the child gets stdin, stdout
    /// and stderr only — never the passphrase source, the database or anything else v1vault or
    /// its caller had open.
    static func closeOnExec() {
        for fd in Descriptors.open() ?? Array(3..<1024) where fd > 2 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    }

    /// Gives the child a new, empty session keyring of its own, so that it does not possess
    /// the caller's: it cannot use the login session's `vault unlock` (whose key needs both
    /// this uid and possession, SECURITY.md "Sessions"). Where the kernel keyring is blocked
    /// there is nothing to hide, and the child is blocked the same way; any other failure
    /// stops the exec (fail closed).
    static func leaveSession(_ executable: String) throws(VaultError) {
        do throws(KernelKeyring.Failure) {
            try KernelKeyring.joinNewSession()
        } catch {
            if error.meansUnavailable { return }
            throw .io(reason: "cannot give \(executable) a session keyring of its own (\(error.message)); it was not started, since it would inherit this login's unlocked sessions")
        }
    }

    /// Replaces this process with `executable`. Only returns by throwing (execve failed).
    /// Unless `keepSession`, the child starts in a new session keyring (`leaveSession`).
    public static func run(executable: String, arguments: [String], exported: [ExportVariable], pristine: Bool, keepSession: Bool = false) throws(VaultError) -> Never {
        if !keepSession { try leaveSession(executable) }
        let exportedNames = Set(exported.map(\.name))
        // Inherited entries, byte for byte, except the vault's secrets and overridden names.
        var inherited: [UnsafeMutablePointer<CChar>] = []
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            let name = s.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            if !isVaultSecretVariable(name), !exportedNames.contains(String(name)), !pristine || pristineKeep.contains(String(name)) {
                inherited.append(entry)
            }
            p += 1
        }
        // Exported entries live in one secure buffer: NAME=value\0 …
        let size = exported.reduce(0) { $0 + $1.name.utf8.count + 2 + max($1.token.secret.count, $1.token.baseURL.utf8.count) }
        var buffer = SecureBytes(capacity: size, empty: true)
        var offsets: [Int] = []
        for v in exported {
            offsets.append(buffer.count)
            buffer.append("\(v.name)=")
            Exporter.appendValue(v, to: &buffer)
            buffer.append(0)
        }
        // argv[0] is what the user typed, as a shell would pass it; argv lives until execve.
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        ProcessHardening.restoreForChild()
        closeOnExec()
        let rc: Int32 = buffer.withUnsafeBytes { raw in
            var envp: [UnsafeMutablePointer<CChar>?] = inherited.map { Optional($0) }
            for o in offsets {
                envp.append(UnsafeMutablePointer(mutating: raw.baseAddress!.advanced(by: o).assumingMemoryBound(to: CChar.self)))
            }
            envp.append(nil)
            return execve(executable, argv, envp)
        }
        let e = errno
        ProcessHardening.apply()
        precondition(rc == -1)  // execve only returns on failure
        if e == ENOENT { throw .commandNotFound(command: executable) }
        throw .commandNotExecutable(command: executable, reason: String(cString: strerror(e)))
    }
}
