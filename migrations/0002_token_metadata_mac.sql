-- v1vault schema 2: authenticate token metadata.
-- meta_mac is a keyed BLAKE2b-256 over the token's identity and metadata (SECURITY.md,
-- "Token metadata MAC"), so a changed base URL, region or name cannot redirect a token.
-- NULL only for rows written before this migration; they are sealed at the next unlocked write.
ALTER TABLE tokens ADD COLUMN meta_mac BLOB CHECK (meta_mac IS NULL OR length(meta_mac) = 32);
