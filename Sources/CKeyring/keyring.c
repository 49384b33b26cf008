// The kernel keyring through raw syscalls (see include/ckeyring.h). glibc has no wrappers for
// add_key and keyctl, and Swift cannot call the variadic syscall(2) itself.
#include "ckeyring.h"

#include <linux/keyctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int32_t v1v_key_add(const char *description, const void *payload, size_t length, int32_t keyring) {
    return (int32_t)syscall(SYS_add_key, "user", description, payload, length, keyring);
}

long v1v_key_read(int32_t key, void *buffer, size_t length) {
    return syscall(SYS_keyctl, KEYCTL_READ, key, buffer, length);
}

long v1v_key_describe(int32_t key, char *buffer, size_t length) {
    return syscall(SYS_keyctl, KEYCTL_DESCRIBE, key, buffer, length);
}

int v1v_key_setperm(int32_t key, uint32_t permissions) {
    return (int)syscall(SYS_keyctl, KEYCTL_SETPERM, key, permissions);
}

int v1v_key_set_timeout(int32_t key, unsigned int seconds) {
    return (int)syscall(SYS_keyctl, KEYCTL_SET_TIMEOUT, key, seconds);
}

int v1v_key_link(int32_t key, int32_t keyring) {
    return (int)syscall(SYS_keyctl, KEYCTL_LINK, key, keyring);
}

int v1v_key_unlink(int32_t key, int32_t keyring) {
    return (int)syscall(SYS_keyctl, KEYCTL_UNLINK, key, keyring);
}

int v1v_key_invalidate(int32_t key) {
    return (int)syscall(SYS_keyctl, KEYCTL_INVALIDATE, key);
}

int32_t v1v_keyring_id(int32_t special, int create) {
    return (int32_t)syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, special, create);
}

long v1v_keyring_list(int32_t keyring, int32_t *serials, size_t bytes) {
    return syscall(SYS_keyctl, KEYCTL_READ, keyring, serials, bytes);
}

int32_t v1v_join_new_session_keyring(void) {
    return (int32_t)syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, (const char *)0);
}
