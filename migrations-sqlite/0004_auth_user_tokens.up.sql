-- The allowlist: access tokens registered at issue (Allowlist mode), by jti.
CREATE TABLE auth_user_tokens (
    jti        TEXT    PRIMARY KEY NOT NULL CHECK (length(jti) BETWEEN 1 AND 64),
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id BLOB    NOT NULL CHECK (length(session_id) = 16),
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    disabled   INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))
) STRICT;

CREATE INDEX auth_user_tokens_user_id_idx ON auth_user_tokens (user_id);
CREATE INDEX auth_user_tokens_session_id_idx ON auth_user_tokens (session_id);
CREATE INDEX auth_user_tokens_expires_at_idx ON auth_user_tokens (expires_at);
