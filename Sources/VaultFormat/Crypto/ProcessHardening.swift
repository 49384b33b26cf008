import CSodium
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Process-level protections applied before any secret is handled.
public enum ProcessHardening {
    /// Sets RLIMIT_CORE to 0 and PR_SET_DUMPABLE to 0, and the umask to 077 so every file the
    /// process creates (database, -wal, -shm, journal, exports) starts private.
    public static func apply() {
        // Non-dumpable first: once the core limit reads 0, dumping is already off too.
        _ = v1vault_set_nondumpable()
        if savedCoreLimit == nil {
            var old = rlimit()
            if getrlimit(Int32(RLIMIT_CORE.rawValue), &old) == 0 { savedCoreLimit = old }
        }
        // Lower only the soft limit so the child of `exec` can get its own back.
        var limit = rlimit(rlim_cur: 0, rlim_max: savedCoreLimit?.rlim_max ?? 0)
        _ = setrlimit(Int32(RLIMIT_CORE.rawValue), &limit)
        let old = umask(0o077)
        if savedUmask == nil { savedUmask = old }
        // Exceeding a file-size limit must surface as a write error SQLite can roll back,
        // not kill the process mid-transaction.
        signal(SIGXFSZ, SIG_IGN)
    }

    nonisolated(unsafe) static var savedCoreLimit: rlimit?
    nonisolated(unsafe) static var savedUmask: mode_t?

    /// Before execve in `vault exec`: give the command the core limit and umask the user had
    /// (execve itself resets the dumpable flag for the new program).
    package static func restoreForChild() {
        if var l = savedCoreLimit { _ = setrlimit(Int32(RLIMIT_CORE.rawValue), &l) }
        if let m = savedUmask { umask(m) }
        signal(SIGXFSZ, SIG_DFL)
    }

    /// Whether the kernel considers this process dumpable (for tests and `doctor`).
    public static var isDumpable: Bool { v1vault_get_dumpable() != 0 }
}
