-- v1vault schema 3: authenticate version bookkeeping.
-- state_mac is a keyed BLAKE2b-256 over which version of the token is current, every kept
-- version's number and created/expires/retired times, and state_seq, the audit row that last
-- changed them (SECURITY.md, "Token state MAC"). NULL only for tokens written before this
-- migration; the process that applies it seals them at its first unlock.
ALTER TABLE tokens ADD COLUMN state_seq INTEGER CHECK (state_seq IS NULL OR state_seq >= 1);
ALTER TABLE tokens ADD COLUMN state_mac BLOB CHECK (state_mac IS NULL OR length(state_mac) = 32);

-- The successful audit rows that change a token's versions, for the freshness check: the
-- newest such row naming a token must be the one its state_seq names (SECURITY.md). The
-- list includes actions reserved for later commands, so adding them needs no new index.
CREATE INDEX audit_log_state_changes ON audit_log(seq)
    WHERE outcome = 'ok' AND action IN ('add', 'rotate', 'rollback', 'remove', 'import', 'seal-state',
                                        'edit', 'rename', 'renew', 'sync');
