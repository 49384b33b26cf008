import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The process's open file descriptors, from /proc/self/fd.
enum Descriptors {
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
