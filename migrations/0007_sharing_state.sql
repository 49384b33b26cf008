-- v1vault schema 7: the sharing rows as one authenticated state, tied to the audit log
-- (SECURITY.md, "Sharing state MAC (schema 7)"). Each recipients, recipient_follows and
-- received_tokens row has its own MAC (schema 6), but a MAC alone has no freshness: an older
-- copy of a row could be put back. This row's MAC covers every one of those rows and names the
-- audit row of the command that last changed them; a later audit row that changed them means
-- the rows were rolled back.
CREATE TABLE sharing_state (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    state_seq  INTEGER NOT NULL CHECK (state_seq >= 1),
    mac        BLOB    NOT NULL CHECK (length(mac) = 32)
);
