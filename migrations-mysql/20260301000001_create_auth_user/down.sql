-- An adopted Django auth_user stays: 20260301000000's down removes what was added to it.
SET @auth_tokens_ddl = IF(EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = DATABASE()
                  AND table_name = 'auth_user' AND column_name = 'password_hash'),
  'DROP TABLE auth_user',
  'DO 0');
PREPARE auth_tokens_stmt FROM @auth_tokens_ddl;
EXECUTE auth_tokens_stmt;
DEALLOCATE PREPARE auth_tokens_stmt;
