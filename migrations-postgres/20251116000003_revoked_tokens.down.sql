DROP TRIGGER IF EXISTS revoked_tokens_notify ON revoked_tokens;
DROP FUNCTION IF EXISTS auth_notify_revocation();
DROP TABLE IF EXISTS revoked_tokens;
