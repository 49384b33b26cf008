-- v1vault schema 5: keys that renew themselves through Vision One's API-keys API.
-- Every column and row here is authenticated (SECURITY.md, "Console links (schema 5)"):
-- the version columns by the state MAC, the token columns by the metadata MAC, and each
-- renewal intent by its own MAC.

-- Which console key (Administration > API Keys) a version is, and what v1vault last did to it.
ALTER TABLE token_versions ADD COLUMN console_id TEXT
    CHECK (console_id IS NULL OR length(console_id) BETWEEN 1 AND 128);
ALTER TABLE token_versions ADD COLUMN console_name TEXT
    CHECK (console_name IS NULL OR length(console_name) BETWEEN 1 AND 256);
ALTER TABLE token_versions ADD COLUMN console_state TEXT
    CHECK (console_state IS NULL OR console_state IN ('enabled', 'disabled', 'deleted'));

-- The expiry warning window of a token in days (NULL: the smaller of 30 and a third of its
-- lifetime), and whether it is the manager key of its base URL (the credential used for
-- API-keys calls there). At most one manager per base URL.
ALTER TABLE tokens ADD COLUMN warn_days INTEGER CHECK (warn_days IS NULL OR warn_days BETWEEN 0 AND 3650);
ALTER TABLE tokens ADD COLUMN manager INTEGER NOT NULL DEFAULT 0 CHECK (manager IN (0, 1));
CREATE UNIQUE INDEX tokens_one_manager ON tokens(base_url) WHERE manager = 1;

-- Written in its own transaction before `vault renew` asks the console to create a key, and
-- deleted in the transaction that seals the key's value. One left behind means the process
-- died in between: the console key named planned_name may exist, but its value is lost.
CREATE TABLE renewal_intents (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    token_id      INTEGER NOT NULL,
    planned_name  TEXT    NOT NULL CHECK (length(planned_name) BETWEEN 1 AND 256),
    base_url      TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    mac           BLOB    NOT NULL CHECK (length(mac) = 32)
);
