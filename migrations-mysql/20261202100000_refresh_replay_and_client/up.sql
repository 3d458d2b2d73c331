-- Retry-safe rotation (issue 11): the seed the successor's text is derived from, set
-- with replaced_by when a refresh token is rotated. Client binding (issue 14): the
-- OAuth client and scope the session was opened for, copied by every rotation.
ALTER TABLE auth_user_tokens
  ADD COLUMN successor_seed BINARY(32) NULL,
  ADD COLUMN client_id VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NULL,
  ADD COLUMN scope VARCHAR(1024) CHARACTER SET ascii COLLATE ascii_bin NULL;
