-- Phone sign-in by one-time code (DESIGN section 9). Phone-only users: email is already
-- nullable; the phone column is named as in seed 002's users table, E.164 in ASCII.
-- An adopted Django auth_user got its phone_number from 20260301000000.
SET @auth_tokens_ddl = IF(EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = DATABASE()
                  AND table_name = 'auth_user' AND column_name = 'password_hash'),
  'ALTER TABLE auth_user
     ADD COLUMN phone_number VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NULL COMMENT ''E.164'',
     ADD UNIQUE KEY auth_user_phone_number_key (phone_number)',
  'DO 0');
PREPARE auth_tokens_stmt FROM @auth_tokens_ddl;
EXECUTE auth_tokens_stmt;
DEALLOCATE PREPARE auth_tokens_stmt;

-- One row per code sent. The code itself is never stored: code_hash is
-- HMAC-SHA256(server secret, phone || 0x00 || code). Rows stay for the hourly limits.
CREATE TABLE one_time_codes (
  id BINARY(16) NOT NULL PRIMARY KEY,
  phone_number VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  code_hash BINARY(32) NOT NULL,
  ip VARCHAR(45) CHARACTER SET ascii COLLATE ascii_bin NULL,
  created_at DATETIME(6) NOT NULL,
  expires_at DATETIME(6) NOT NULL,
  attempts INT NOT NULL DEFAULT 0,
  max_attempts INT NOT NULL,
  consumed_at DATETIME(6) NULL,
  revoked_at DATETIME(6) NULL,
  KEY one_time_codes_phone_number_created_at (phone_number, created_at),
  KEY one_time_codes_ip_created_at (ip, created_at),
  CONSTRAINT one_time_codes_attempts_check CHECK (attempts >= 0 AND max_attempts > 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per phone and per IP that asked for a code: a code request locks its rows
-- (phone first, then IP) so concurrent requests cannot overrun a limit.
CREATE TABLE one_time_code_locks (
  lock_key VARBINARY(80) NOT NULL PRIMARY KEY
) ENGINE=InnoDB;
