-- At most one live (neither rotated nor revoked) refresh token per session, enforced by
-- the database as on PostgreSQL: a second live row for a session is refused.
CREATE UNIQUE INDEX refresh_tokens_live_session_key ON refresh_tokens (session_id)
    WHERE rotated_at IS NULL AND revoked_at IS NULL;
