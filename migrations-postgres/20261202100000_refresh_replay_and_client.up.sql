-- Retry-safe rotation (issue 11): the seed the successor's text is derived from, set
-- with replaced_by when a token is rotated. Client binding (issue 14): the OAuth
-- client and scope the session was opened for, copied by every rotation.
ALTER TABLE refresh_tokens
    ADD COLUMN IF NOT EXISTS successor_seed BYTEA CHECK (octet_length(successor_seed) = 32),
    ADD COLUMN IF NOT EXISTS client_id VARCHAR(255),
    ADD COLUMN IF NOT EXISTS scope VARCHAR(1024);
