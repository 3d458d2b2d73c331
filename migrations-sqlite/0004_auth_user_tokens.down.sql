DROP INDEX auth_user_tokens_expires_at_idx;
DROP INDEX auth_user_tokens_session_id_idx;
DROP INDEX auth_user_tokens_user_id_idx;
DROP TABLE auth_user_tokens;
