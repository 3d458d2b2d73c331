-- Device metadata and DPoP binding (issue 13): the device id and name the client gave
-- at login, and the RFC 7638 thumbprint of the DPoP key the session is bound to,
-- copied by every rotation.
ALTER TABLE auth_user_tokens
  ADD COLUMN device_id VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  ADD COLUMN device_name VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  ADD COLUMN dpop_jkt VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NULL;
