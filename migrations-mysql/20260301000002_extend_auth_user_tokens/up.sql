-- auth_user_tokens holds every token the library stores:
--   token_type 'refresh': one row per refresh token (rotation families = sessions);
--   token_type 'access':  allowlisted access tokens (Allowlist mode), including legacy rows.
-- Existing rows become 'access' rows; the next migration hashes their plaintext.
-- user_id widens to BIGINT (lossless for INT UNSIGNED) to hold every auth_user id.
ALTER TABLE auth_user_tokens
  MODIFY user_id BIGINT NOT NULL COMMENT 'the user id(hybrid.auth_user.id)',
  ADD COLUMN token_type VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'access'
    COMMENT 'access (allowlisted JWT) or refresh',
  ADD COLUMN token_id BINARY(16) NULL COMMENT 'refresh: the row id (UUID) used by replaced_by',
  ADD COLUMN token_hash BINARY(32) NULL COMMENT 'SHA-256 of the bearer token text; tokens are never stored in plaintext',
  ADD COLUMN jti VARBINARY(64) NULL COMMENT 'access: the JWT id',
  ADD COLUMN session_id BINARY(16) NULL COMMENT 'the session (rotation family), UUID',
  ADD COLUMN generation INT NOT NULL DEFAULT 0 COMMENT 'refresh: 0 at login, +1 per rotation',
  ADD COLUMN issued_at DATETIME(6) NULL,
  ADD COLUMN expires_at DATETIME(6) NULL,
  ADD COLUMN session_created_at DATETIME(6) NULL,
  ADD COLUMN session_expires_at DATETIME(6) NULL COMMENT 'refresh: absolute session expiry',
  ADD COLUMN rotated_at DATETIME(6) NULL COMMENT 'refresh: when exchanged for a successor',
  ADD COLUMN replaced_by BINARY(16) NULL COMMENT 'refresh: token_id of the successor',
  ADD COLUMN revoked_at DATETIME(6) NULL,
  ADD COLUMN revoke_reason VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
  ADD COLUMN reuse_count INT NOT NULL DEFAULT 0 COMMENT 'refresh: grace re-exchanges of this token',
  ADD COLUMN last_used_at DATETIME(6) NULL COMMENT 'refresh: when last presented',
  ADD COLUMN user_agent VARCHAR(512) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  ADD COLUMN ip VARCHAR(45) CHARACTER SET ascii COLLATE ascii_bin NULL,
  ADD CONSTRAINT auth_user_tokens_token_type_check CHECK (token_type IN ('access', 'refresh')),
  ADD UNIQUE INDEX auth_user_tokens_token_id_key (token_id),
  ADD INDEX auth_user_tokens_token_hash (token_hash),
  ADD INDEX auth_user_tokens_jti (jti),
  ADD INDEX auth_user_tokens_user_id (user_id, token_type),
  ADD INDEX auth_user_tokens_session_id (session_id),
  ADD INDEX auth_user_tokens_session_expires_at (token_type, session_expires_at),
  ADD INDEX auth_user_tokens_revoked_at (token_type, revoked_at),
  ADD INDEX auth_user_tokens_expires_at (token_type, expires_at);
