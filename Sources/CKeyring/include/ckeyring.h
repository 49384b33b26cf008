#ifndef V1VAULT_CKEYRING_H
#define V1VAULT_CKEYRING_H

#include <stddef.h>
#include <stdint.h>

/// The Linux kernel key-retention service (keyrings(7)), reached with raw syscalls: no
/// libkeyutils dependency. Every call returns what the syscall returns (-1 with errno set on
/// failure). Special keyring ids: -1 thread, -3 session, -4 user, -5 user-session.

/// add_key(2) of a "user" key: creates or updates `description` in `keyring`.
int32_t v1v_key_add(const char *description, const void *payload, size_t length, int32_t keyring);
/// KEYCTL_READ into `buffer`; returns the payload's full length (which may exceed `length`).
long v1v_key_read(int32_t key, void *buffer, size_t length);
/// KEYCTL_DESCRIBE: "type;uid;gid;perm;description".
long v1v_key_describe(int32_t key, char *buffer, size_t length);
int v1v_key_setperm(int32_t key, uint32_t permissions);
int v1v_key_set_timeout(int32_t key, unsigned int seconds);
int v1v_key_link(int32_t key, int32_t keyring);
int v1v_key_unlink(int32_t key, int32_t keyring);
int v1v_key_invalidate(int32_t key);
/// KEYCTL_GET_KEYRING_ID: the serial of a special keyring (`create` non-zero creates it).
int32_t v1v_keyring_id(int32_t special, int create);
/// KEYCTL_READ on a keyring: the serials it links, as int32_t; returns the byte length.
long v1v_keyring_list(int32_t keyring, int32_t *serials, size_t bytes);
/// KEYCTL_JOIN_SESSION_KEYRING with no name: this thread (and what it execs) gets a new,
/// empty, anonymous session keyring. Returns its serial.
int32_t v1v_join_new_session_keyring(void);

#endif
