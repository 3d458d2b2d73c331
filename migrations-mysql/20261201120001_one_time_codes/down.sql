DROP TABLE one_time_code_locks;
DROP TABLE one_time_codes;
-- An adopted Django auth_user got its phone_number from 20260301000000.
SET @auth_tokens_ddl = IF(EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = DATABASE()
                  AND table_name = 'auth_user' AND column_name = 'password_hash'),
  'ALTER TABLE auth_user DROP KEY auth_user_phone_number_key, DROP COLUMN phone_number',
  'DO 0');
PREPARE auth_tokens_stmt FROM @auth_tokens_ddl;
EXECUTE auth_tokens_stmt;
DEALLOCATE PREPARE auth_tokens_stmt;
