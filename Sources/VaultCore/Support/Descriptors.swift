import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The process's open file descriptors, from /proc/self/fd.
public enum Descriptors {
    /// Which of 0, 1, 2 were closed when the process started (`reserveStandard`).
    nonisolated(unsafe) public private(set) static var closedAtStart: Set<Int32> = []

    /// Opens /dev/null on any of 0, 1, 2 that is closed, so no file v1vault opens later (the
    /// database above all) can land on a number that output is written to. Records which were
    /// closed: `export --format github` refuses to run without a real stdout for its mask.
    public static func reserveStandard() {
        for fd: Int32 in 0...2 where fcntl(fd, F_GETFD) < 0 {
            closedAtStart.insert(fd)
            let n = Glibc.open("/dev/null", O_RDWR)
            if n >= 0, n != fd { dup2(n, fd); close(n) }
        }
    }

    /// Every open descriptor (the directory's own excluded); nil without /proc.
    static func open() -> [Int32]? {
        guard let dir = opendir("/proc/self/fd") else { return nil }
        defer { closedir(dir) }
        let own = dirfd(dir)
        var fds: [Int32] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if let fd = Int32(name), fd != own { fds.append(fd) }
        }
        return fds
    }
}
