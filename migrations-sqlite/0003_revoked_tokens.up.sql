-- The revocation feed and denylist. `id` is the readers' cursor; AUTOINCREMENT so an
-- id is never reused after cleanup removes the newest rows.
CREATE TABLE revoked_tokens (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT    NOT NULL CHECK (kind IN ('token', 'session', 'user')),
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    jti        TEXT    UNIQUE CHECK (jti IS NULL OR length(jti) BETWEEN 1 AND 64),
    session_id BLOB    CHECK (session_id IS NULL OR length(session_id) = 16),
    revoked_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    CHECK ((kind = 'token') = (jti IS NOT NULL)),
    CHECK ((kind = 'session') = (session_id IS NOT NULL))
) STRICT;

CREATE INDEX revoked_tokens_revoked_at_idx ON revoked_tokens (revoked_at);
CREATE INDEX revoked_tokens_expires_at_idx ON revoked_tokens (expires_at);
