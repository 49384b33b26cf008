-- v1vault schema 1. Frozen once committed: change the schema with a new NNNN_name.sql file.
-- Byte layouts of every BLOB column are specified in SECURITY.md.

-- One row: how to turn the passphrase into the key that unwraps the master key.
CREATE TABLE vault_header (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    format_version  INTEGER NOT NULL,
    vault_id        BLOB    NOT NULL CHECK (length(vault_id) = 16),
    kdf_algorithm   TEXT    NOT NULL CHECK (kdf_algorithm = 'argon2id13'),
    kdf_ops         INTEGER NOT NULL,
    kdf_mem         INTEGER NOT NULL,
    kdf_salt        BLOB    NOT NULL CHECK (length(kdf_salt) = 16),
    kdf_target_ms   INTEGER,
    wrap_nonce      BLOB    NOT NULL CHECK (length(wrap_nonce) = 24),
    wrapped_key     BLOB    NOT NULL CHECK (length(wrapped_key) = 64),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

-- One row per named Vision One API key. Metadata is not encrypted (see SECURITY.md).
CREATE TABLE tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL UNIQUE,
    region       TEXT,
    base_url     TEXT    NOT NULL,
    role         TEXT,
    description  TEXT,
    permissions  TEXT    NOT NULL DEFAULT '[]',
    created_at   INTEGER NOT NULL
);

-- Every kept version of every token; the secret is sealed (nonce + secretbox ciphertext).
CREATE TABLE token_versions (
    token_id    INTEGER NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
    version     INTEGER NOT NULL CHECK (version >= 1),
    nonce       BLOB    NOT NULL CHECK (length(nonce) = 24),
    ciphertext  BLOB    NOT NULL CHECK (length(ciphertext) > 44),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    retired_at  INTEGER,
    PRIMARY KEY (token_id, version)
) WITHOUT ROWID;

-- At most one current (not retired) version per token.
CREATE UNIQUE INDEX token_versions_one_current ON token_versions(token_id) WHERE retired_at IS NULL;

-- Serves "which current versions expire before X" without a table scan.
CREATE INDEX token_versions_current_expiry ON token_versions(expires_at)
    WHERE retired_at IS NULL AND expires_at IS NOT NULL;

-- Append-only audit log. mac is NULL until the row is sealed into the chain (SECURITY.md).
CREATE TABLE audit_log (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    at       TEXT    NOT NULL,
    action   TEXT    NOT NULL,
    tokens   TEXT    NOT NULL DEFAULT '[]',
    outcome  TEXT    NOT NULL CHECK (outcome IN ('ok', 'error')),
    reason   TEXT,
    details  TEXT    NOT NULL DEFAULT '{}',
    os_user  TEXT    NOT NULL,
    uid      INTEGER NOT NULL,
    host     TEXT    NOT NULL,
    pid      INTEGER NOT NULL,
    mac      BLOB    CHECK (mac IS NULL OR length(mac) = 32)
);
