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
        var limit = rlimit(rlim_cur: 0, rlim_max: 0)
        _ = setrlimit(Int32(RLIMIT_CORE.rawValue), &limit)
        _ = v1vault_set_nondumpable()
        umask(0o077)
    }

    /// Whether the kernel considers this process dumpable (for tests and `doctor`).
    public static var isDumpable: Bool { v1vault_get_dumpable() != 0 }
}
