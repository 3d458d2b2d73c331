-- Legacy upgrade: rows written by the original application hold raw JWTs in access_token.
-- Each gets the SHA-256 of its text in token_hash, its claims (jti, sid, iat, exp) copied
-- into the typed columns so Allowlist lookups by jti keep finding it, and its plaintext
-- cleared (access_token becomes NULL, and a CHECK keeps it NULL from now on).
-- Rows already processed (access_token NULL or '') are left alone, so the migration can
-- be reverted and re-applied.

ALTER TABLE auth_user_tokens
  MODIFY access_token VARCHAR(512) NULL
    COMMENT 'legacy plaintext JWT; always NULL: tokens are stored only as token_hash',
  ADD COLUMN legacy_claims LONGTEXT CHARACTER SET utf8mb4 NULL;

-- 1. Hash every plaintext token.
UPDATE auth_user_tokens
   SET token_hash = UNHEX(SHA2(access_token, 256))
 WHERE access_token IS NOT NULL AND access_token <> '' AND token_hash IS NULL;

-- 2. One row per token: duplicates fold into the oldest row; a disabled copy disables it.
UPDATE auth_user_tokens t
  JOIN (SELECT token_hash, MIN(id) AS keep_id, MAX(COALESCE(disabled, 1)) AS any_disabled
          FROM auth_user_tokens
         WHERE access_token IS NOT NULL AND access_token <> '' AND token_hash IS NOT NULL
         GROUP BY token_hash
        HAVING COUNT(*) > 1) d ON t.id = d.keep_id
   SET t.disabled = d.any_disabled;
DELETE t FROM auth_user_tokens t
  JOIN (SELECT token_hash, MIN(id) AS keep_id
          FROM auth_user_tokens
         WHERE access_token IS NOT NULL AND access_token <> '' AND token_hash IS NOT NULL
         GROUP BY token_hash
        HAVING COUNT(*) > 1) d ON t.token_hash = d.token_hash AND t.id <> d.keep_id;

-- 3. Decode the JWT payload (second base64url segment). Arbitrary legacy text may not
--    decode: in this block decoding failures give NULL with a warning instead of aborting
--    the upgrade, so the session's sql_mode is relaxed here and restored right after.
SET @auth_tokens_saved_sql_mode = @@SESSION.sql_mode;
SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION';
UPDATE auth_user_tokens
   SET legacy_claims = CONVERT(FROM_BASE64(CONCAT(
         REPLACE(REPLACE(SUBSTRING_INDEX(SUBSTRING_INDEX(access_token, '.', 2), '.', -1), '-', '+'), '_', '/'),
         REPEAT('=', MOD(4 - MOD(CHAR_LENGTH(SUBSTRING_INDEX(SUBSTRING_INDEX(access_token, '.', 2), '.', -1)), 4), 4))
       )) USING utf8mb4)
 WHERE access_token IS NOT NULL
   AND access_token REGEXP '^[A-Za-z0-9_-]+[.][A-Za-z0-9_-]+[.][A-Za-z0-9_-]+$';
UPDATE auth_user_tokens
   SET legacy_claims = NULL
 WHERE legacy_claims IS NOT NULL AND NOT JSON_VALID(legacy_claims);
UPDATE auth_user_tokens
   SET legacy_claims = CASE
         WHEN JSON_TYPE(JSON_EXTRACT(legacy_claims, '$')) = 'OBJECT'
          AND JSON_TYPE(JSON_EXTRACT(legacy_claims, '$.jti')) = 'STRING'
          AND JSON_TYPE(JSON_EXTRACT(legacy_claims, '$.sid')) = 'STRING'
          AND JSON_UNQUOTE(JSON_EXTRACT(legacy_claims, '$.iat')) REGEXP '^[0-9]{1,11}$'
          AND JSON_UNQUOTE(JSON_EXTRACT(legacy_claims, '$.exp')) REGEXP '^[0-9]{1,11}$'
         THEN legacy_claims
       END
 WHERE legacy_claims IS NOT NULL;
SET SESSION sql_mode = @auth_tokens_saved_sql_mode;

-- 4. Typed columns from the claims, for tokens whose every claim the library needs is
--    there (auth-core refuses tokens without jti, sid, iat and exp anyway). Times are
--    seconds since the epoch, converted without the session time zone.
UPDATE auth_user_tokens
   SET legacy_claims = NULL
 WHERE legacy_claims IS NOT NULL
   AND (LENGTH(JSON_UNQUOTE(JSON_EXTRACT(legacy_claims, '$.jti'))) NOT BETWEEN 1 AND 64
        OR REPLACE(REPLACE(REPLACE(REPLACE(JSON_UNQUOTE(JSON_EXTRACT(legacy_claims, '$.sid')),
             'urn:uuid:', ''), '{', ''), '}', ''), '-', '') NOT REGEXP '^[0-9A-Fa-f]{32}$');
UPDATE auth_user_tokens
   SET jti = JSON_UNQUOTE(JSON_EXTRACT(legacy_claims, '$.jti')),
       session_id = UNHEX(REPLACE(REPLACE(REPLACE(REPLACE(JSON_UNQUOTE(JSON_EXTRACT(legacy_claims, '$.sid')),
             'urn:uuid:', ''), '{', ''), '}', ''), '-', '')),
       issued_at = TIMESTAMPADD(SECOND, CAST(JSON_UNQUOTE(JSON_EXTRACT(legacy_claims, '$.iat')) AS UNSIGNED),
                                '1970-01-01 00:00:00'),
       expires_at = TIMESTAMPADD(SECOND, CAST(JSON_UNQUOTE(JSON_EXTRACT(legacy_claims, '$.exp')) AS UNSIGNED),
                                 '1970-01-01 00:00:00')
 WHERE legacy_claims IS NOT NULL;
-- Rows that can never authenticate (not a JWT, claims missing, plaintext cleared by an
-- earlier run) expire at their creation, so cleanup removes them like any expired
-- allowlist row.
UPDATE auth_user_tokens
   SET issued_at = created_at, expires_at = created_at
 WHERE token_type = 'access' AND expires_at IS NULL AND legacy_claims IS NULL;

-- 5. A jti names one token: if legacy rows share one, only the oldest keeps it.
UPDATE auth_user_tokens t
  JOIN (SELECT jti, MIN(id) AS keep_id
          FROM auth_user_tokens
         WHERE jti IS NOT NULL
         GROUP BY jti
        HAVING COUNT(*) > 1) d ON t.jti = d.jti AND t.id <> d.keep_id
   SET t.jti = NULL
 WHERE t.access_token IS NOT NULL AND t.access_token <> '';

-- 6. Clear the plaintext and keep it cleared.
UPDATE auth_user_tokens SET access_token = NULL WHERE access_token IS NOT NULL;
ALTER TABLE auth_user_tokens
  DROP COLUMN legacy_claims,
  DROP INDEX auth_user_tokens_token_hash,
  DROP INDEX auth_user_tokens_jti,
  ADD UNIQUE INDEX auth_user_tokens_token_hash_key (token_hash),
  ADD UNIQUE INDEX auth_user_tokens_jti_key (jti),
  ADD CONSTRAINT auth_user_tokens_no_plaintext CHECK (access_token IS NULL);
