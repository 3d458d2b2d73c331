-- Plaintext tokens are gone for good: reverting restores the schema of the previous
-- migration, with '' in access_token (the original NOT NULL column) and the hashes kept.
ALTER TABLE auth_user_tokens
  DROP CONSTRAINT auth_user_tokens_no_plaintext,
  DROP INDEX auth_user_tokens_token_hash_key,
  DROP INDEX auth_user_tokens_jti_key,
  ADD INDEX auth_user_tokens_token_hash (token_hash),
  ADD INDEX auth_user_tokens_jti (jti);
UPDATE auth_user_tokens SET access_token = '' WHERE access_token IS NULL;
ALTER TABLE auth_user_tokens
  MODIFY access_token VARCHAR(512) NOT NULL COMMENT 'the jwt access token belong to the user id';
