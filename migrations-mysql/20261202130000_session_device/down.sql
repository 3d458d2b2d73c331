ALTER TABLE auth_user_tokens
  DROP COLUMN dpop_jkt,
  DROP COLUMN device_name,
  DROP COLUMN device_id;
