// Build facts passed in by Package.swift as preprocessor definitions (see include/cbuildinfo.h).
#include "cbuildinfo.h"

#ifndef V1VAULT_VERSION
#error "V1VAULT_VERSION is defined by Package.swift"
#endif
#ifndef V1VAULT_COMMIT
#define V1VAULT_COMMIT "unknown"
#endif

const char *v1v_version(void) { return V1VAULT_VERSION; }
const char *v1v_commit(void) { return V1VAULT_COMMIT; }
