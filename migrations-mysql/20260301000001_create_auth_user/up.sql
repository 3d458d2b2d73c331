-- Users (seeds 002 and 004). Emails are stored normalised (trimmed, lower-case) and compared
-- byte for byte: VARBINARY has no collation, so no case folding and no trailing-space padding.
-- Not created when 20260301000000 adopted a Django auth_user (ARCHITECTURE.md, "Existing
-- deployments"): the store keeps its users there.
SET @auth_tokens_ddl = IF(EXISTS (SELECT 1 FROM auth_schema_adoptions WHERE object_kind = 'table'), 'DO 0',
'CREATE TABLE auth_user (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  email VARBINARY(254) NULL COMMENT ''normalised email, UTF-8'',
  password_hash VARCHAR(255) NULL COMMENT ''PHC string (pbkdf2-sha256 or argon2id)'',
  is_admin TINYINT(1) NOT NULL DEFAULT 0,
  is_active TINYINT(1) NOT NULL DEFAULT 1,
  is_verified TINYINT(1) NOT NULL DEFAULT 0,
  last_login DATETIME(6) NULL,
  tokens_valid_after DATETIME(6) NULL COMMENT ''access tokens issued before this instant are invalid'',
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  UNIQUE KEY auth_user_email_key (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin');
PREPARE auth_tokens_stmt FROM @auth_tokens_ddl;
EXECUTE auth_tokens_stmt;
DEALLOCATE PREPARE auth_tokens_stmt;
