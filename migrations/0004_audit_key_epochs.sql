-- v1vault schema 4: `vault rekey` replaces the master key. Audit rows sealed under an earlier
-- audit key stay verifiable: each earlier key is kept here, sealed under the current master
-- key together with the range of rows it sealed (SECURITY.md, "Rekey and audit key epochs").
CREATE TABLE audit_key_epochs (
    first_seq   INTEGER PRIMARY KEY CHECK (first_seq >= 1),
    last_seq    INTEGER NOT NULL CHECK (last_seq >= first_seq),
    nonce       BLOB    NOT NULL CHECK (length(nonce) = 24),
    sealed_key  BLOB    NOT NULL CHECK (length(sealed_key) = 64)
);
