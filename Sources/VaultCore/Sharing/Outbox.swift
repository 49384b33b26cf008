import Foundation
import VaultFormat

/// The directories drops travel through: an outbox that `share --outbox` and `renew --publish`
/// write (DIR/RECIPIENT/TOKEN.age) and an inbox that `receive` reads. Drops are ciphertext, but
/// a reader must never see half a file: each is written to a temporary file in its directory,
/// synced, and renamed over the previous drop of the same recipient and token.
public enum Outbox {
    /// The file a drop of `token` for `recipient` has in `dir`.
    public static func path(_ dir: String, recipient: String, token: String) -> String {
        "\(dir)/\(recipient)/\(token).age"
    }

    /// Writes `bytes` at `path(dir, recipient, token)`; creates DIR/RECIPIENT (0700) when missing.
    /// Refuses a RECIPIENT entry that is not a directory (a symlink included).
    public static func write(_ bytes: [UInt8], dir: String, recipient: String, token: String) throws(VaultError) -> String {
        try Validate.recipientName(recipient)
        try Validate.tokenName(token)
        var st = stat()
        guard stat(dir, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
            throw .invalidInput(reason: "the outbox \(displayName(dir)) is not a directory", hint: nil)
        }
        let sub = "\(dir)/\(recipient)"
        if lstat(sub, &st) != 0 {
            guard mkdir(sub, 0o700) == 0 || errno == EEXIST else {
                throw .io(reason: "cannot create \(sub): \(String(cString: strerror(errno)))")
            }
            guard lstat(sub, &st) == 0 else { throw .io(reason: "cannot read \(sub): \(String(cString: strerror(errno)))") }
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            throw .invalidInput(reason: "\(displayName(sub)) is not a directory (a symlink or a file); nothing was written there", hint: nil)
        }
        let target = path(dir, recipient: recipient, token: token)
        try writeAtomically(bytes, to: target)
        return target
    }

    /// Writes through a temporary file next to `path`, fsync, rename, fsync of the directory.
    public static func writeAtomically(_ bytes: [UInt8], to path: String) throws(VaultError) {
        let dir = (path as NSString).deletingLastPathComponent
        var template = Array(((dir.isEmpty ? "." : dir) + "/." + (path as NSString).lastPathComponent + ".v1vault-XXXXXX").utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { throw .io(reason: "cannot create a temporary file next to \(path): \(String(cString: strerror(errno)))") }
        let temp = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        var ok = true
        var written = 0
        bytes.withUnsafeBytes { b in
            while written < b.count {
                let n = Foundation.write(fd, b.baseAddress! + written, b.count - written)
                if n < 0 { if errno == EINTR { continue }; ok = false; break }
                written += n
            }
        }
        ok = ok && fsync(fd) == 0
        close(fd)
        guard ok, rename(temp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temp)
            throw .io(reason: "cannot write \(path): \(reason)")
        }
        let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }

    /// The drops to read for PATH: the file itself, or the `*.age` entries directly in a
    /// directory (not subdirectories; `.`-files are temporaries), sorted by name. A symlink,
    /// FIFO or device among them is listed, and `read` refuses it (exit 30): junk in an inbox
    /// is reported, never skipped in silence, and never waited on.
    public static func files(at path: String) throws(VaultError) -> [String] {
        var st = stat()
        guard stat(path, &st) == 0 else { throw .io(reason: "cannot read \(path): \(String(cString: strerror(errno)))") }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { return [path] }
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else {
            throw .io(reason: "cannot list \(path)")
        }
        return names.filter { $0.hasSuffix(".age") && !$0.hasPrefix(".") }.sorted().compactMap { name in
            let full = path.hasSuffix("/") ? path + name : path + "/" + name
            var s = stat()
            return lstat(full, &s) == 0 && (s.st_mode & S_IFMT) != S_IFDIR ? full : nil
        }
    }

    /// Reads one drop (at most `limit` bytes; a larger file is refused unread).
    public static func read(_ path: String, limit: Int) throws(VaultError) -> [UInt8] {
        // O_NONBLOCK: a FIFO put in the inbox must not hang the run (red team, #24); it is
        // refused below as not a regular file, and blocking reads are restored for files.
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ELOOP { throw .dropUnreadable(file: path, reason: "a symbolic link (drops are regular files)") }
            throw .io(reason: "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            throw .dropUnreadable(file: path, reason: "not a regular file")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        guard st.st_size <= limit else { throw .dropUnreadable(file: path, reason: "larger than \(limit) bytes") }
        var out = [UInt8](repeating: 0, count: Int(st.st_size) + 1)
        var total = 0
        while total < out.count {
            let n = out.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress! + total, $0.count - total) }
            if n < 0 { if errno == EINTR { continue }; throw .io(reason: "cannot read \(path): \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            total += n
        }
        guard total <= limit else { throw .dropUnreadable(file: path, reason: "larger than \(limit) bytes") }
        return Array(out[0..<total])
    }
}
