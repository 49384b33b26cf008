#ifndef V1VAULT_CSODIUM_SHIM_H
#define V1VAULT_CSODIUM_SHIM_H

#include <sodium.h>
#include <sys/prctl.h>

/// prctl(2) is variadic and cannot be called from Swift directly.
/// Marks the process non-dumpable: no core file, no ptrace attach by the same user.
static inline int v1vault_set_nondumpable(void) {
    return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/// Returns the current value of PR_GET_DUMPABLE (0 or 1), or -1 on error.
static inline int v1vault_get_dumpable(void) {
    return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
}

#endif
