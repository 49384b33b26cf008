#ifndef V1VAULT_CBUILDINFO_H
#define V1VAULT_CBUILDINFO_H

/// The version (set once, in Package.swift) and the commit the binary was built from
/// (V1VAULT_COMMIT in the build's environment, which scripts/build-release sets; "unknown"
/// otherwise).
const char *v1v_version(void);
const char *v1v_commit(void);

#endif
