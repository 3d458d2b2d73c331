DROP TABLE IF EXISTS audit_logs;
DROP FUNCTION IF EXISTS cleanup_expired_refresh_tokens(INTEGER);
DROP TABLE IF EXISTS refresh_tokens;
