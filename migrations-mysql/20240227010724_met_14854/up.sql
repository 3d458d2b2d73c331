-- MET-14854 (seed 000, 20240227010724_MET-14854.js): the auth_user_tokens table exactly as
-- the original knex migration created it. IF NOT EXISTS adopts the table of a deployment that
-- ran the knex migration, so the later migrations upgrade it in place.
CREATE TABLE IF NOT EXISTS auth_user_tokens (
  id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
  user_id INT UNSIGNED NOT NULL COMMENT 'the user id(hybrid.auth_user.id)',
  disabled TINYINT(1) DEFAULT 0 COMMENT 'the token is available or not.',
  access_token VARCHAR(512) NOT NULL COMMENT 'the jwt access token belong to the user id',
  created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP
);
