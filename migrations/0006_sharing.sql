-- v1vault schema 6: sharing keys with other vaults through age files (SECURITY.md, "Sharing
-- (schema 6)"). Every row here is authenticated: the identity by its sealed box, the others
-- by their own MAC under the metadata key.

-- This vault's identity: an X25519 key pair (its age recipient, for receiving) and an Ed25519
-- key pair (for signing what it shares). The secrets are sealed under the master key; the
-- public halves are plaintext, and checked against the sealed secrets at every use.
CREATE TABLE vault_identity (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    age_public      BLOB    NOT NULL CHECK (length(age_public) = 32),
    signing_public  BLOB    NOT NULL CHECK (length(signing_public) = 32),
    nonce           BLOB    NOT NULL CHECK (length(nonce) = 24),
    sealed          BLOB    NOT NULL CHECK (length(sealed) = 96),
    created_at      INTEGER NOT NULL
);

-- Other vaults (teammates, hosts): who this vault shares with (their age recipient) and whose
-- signed drops it accepts (their signing key, when trusted).
CREATE TABLE recipients (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT    NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),
    age_recipient  TEXT    NOT NULL UNIQUE CHECK (length(age_recipient) BETWEEN 1 AND 128),
    signing_key    BLOB    CHECK (signing_key IS NULL OR length(signing_key) = 32),
    trusted        INTEGER NOT NULL DEFAULT 0 CHECK (trusted IN (0, 1)),
    created_at     INTEGER NOT NULL,
    mac            BLOB    NOT NULL CHECK (length(mac) = 32)
);

-- Which tokens `renew --publish` and `share --followers` send to which recipient.
CREATE TABLE recipient_follows (
    recipient_id  INTEGER NOT NULL,
    token_id      INTEGER NOT NULL,
    mac           BLOB    NOT NULL CHECK (length(mac) = 32),
    PRIMARY KEY (recipient_id, token_id)
);

-- Tokens that arrived by `vault receive`: whose signing key sent them and the newest of the
-- sender's versions taken (an older one is a replay and refused).
CREATE TABLE received_tokens (
    token_id        INTEGER PRIMARY KEY,
    sender_key      BLOB    NOT NULL CHECK (length(sender_key) = 32),
    remote_version  INTEGER NOT NULL CHECK (remote_version BETWEEN 1 AND 4294967295),
    received_at     INTEGER NOT NULL,
    mac             BLOB    NOT NULL CHECK (length(mac) = 32)
);
