import ArgumentParser
import Foundation
import VaultCore
import VaultFormat

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
