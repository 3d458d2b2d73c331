-- Refresh tokens: one row per issued token; the rows of one session_id form its
-- rotation family. Only the SHA-256 of a token is stored. Ids are 16-byte UUID blobs.
CREATE TABLE refresh_tokens (
    id                 BLOB    PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    user_id            INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id         BLOB    NOT NULL CHECK (length(session_id) = 16),
    generation         INTEGER NOT NULL CHECK (generation >= 0),
    token_hash         BLOB    NOT NULL CHECK (length(token_hash) = 32),
    issued_at          INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL,
    session_created_at INTEGER NOT NULL,
    session_expires_at INTEGER NOT NULL,
    rotated_at         INTEGER,
    replaced_by        BLOB    CHECK (replaced_by IS NULL OR length(replaced_by) = 16),
    revoked_at         INTEGER,
    revoke_reason      TEXT    CHECK (revoke_reason IS NULL OR length(revoke_reason) <= 32),
    reuse_count        INTEGER NOT NULL DEFAULT 0 CHECK (reuse_count >= 0),
    user_agent         TEXT    CHECK (user_agent IS NULL OR length(user_agent) <= 512),
    ip                 TEXT    CHECK (ip IS NULL OR length(ip) <= 45)
) STRICT;

CREATE UNIQUE INDEX refresh_tokens_token_hash_key ON refresh_tokens (token_hash);
CREATE INDEX refresh_tokens_user_id_idx ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);
-- Cleanup: sessions past their absolute expiry, and revoked rows.
CREATE INDEX refresh_tokens_session_expires_at_idx ON refresh_tokens (session_expires_at);
CREATE INDEX refresh_tokens_revoked_at_idx ON refresh_tokens (revoked_at) WHERE revoked_at IS NOT NULL;
