-- The revocation feed and denylist (seed 004): one row per revoked access token (kind
-- 'token', by jti), revoked session ('session') or user state change ('user'). The id is
-- the feed cursor; rows can go once expires_at has passed. The foreign key to auth_user is
-- left out when 20260301000000 adopted a Django auth_user (its INT id, maybe in another
-- database, and Django deletes users on its own).
CREATE TABLE revoked_tokens (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  kind VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  user_id BIGINT NOT NULL,
  jti VARBINARY(64) NULL,
  session_id BINARY(16) NULL,
  revoked_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  expires_at DATETIME(6) NOT NULL,
  UNIQUE KEY revoked_tokens_jti_key (jti),
  KEY revoked_tokens_user_id (user_id),
  KEY revoked_tokens_revoked_at (revoked_at),
  KEY revoked_tokens_expires_at (expires_at),
  CONSTRAINT revoked_tokens_kind_check CHECK (kind IN ('token', 'session', 'user'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
SET @auth_tokens_ddl = IF(EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = DATABASE()
                  AND table_name = 'auth_user' AND column_name = 'password_hash'),
  'ALTER TABLE revoked_tokens ADD CONSTRAINT revoked_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth_user (id)',
  'DO 0');
PREPARE auth_tokens_stmt FROM @auth_tokens_ddl;
EXECUTE auth_tokens_stmt;
DEALLOCATE PREPARE auth_tokens_stmt;
