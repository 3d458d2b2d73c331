DROP INDEX revoked_tokens_expires_at_idx;
DROP INDEX revoked_tokens_revoked_at_idx;
DROP TABLE revoked_tokens;
