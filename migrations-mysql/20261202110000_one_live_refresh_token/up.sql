-- At most one live (neither rotated nor revoked) refresh token per session, enforced by
-- the database as on SQLite and PostgreSQL. MySQL has no partial indexes: the generated
-- column holds the session id of a live refresh row and NULL otherwise, and a UNIQUE key
-- over it admits any number of NULLs but each session id once.
ALTER TABLE auth_user_tokens
  ADD COLUMN live_session_id BINARY(16) GENERATED ALWAYS AS (
    IF(token_type = 'refresh' AND rotated_at IS NULL AND revoked_at IS NULL, session_id, NULL)
  ) VIRTUAL COMMENT 'refresh: session_id while the row is live, else NULL',
  ADD UNIQUE KEY auth_user_tokens_live_session_key (live_session_id);
