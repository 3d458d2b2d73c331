ALTER TABLE refresh_tokens DROP COLUMN dpop_jkt;
ALTER TABLE refresh_tokens DROP COLUMN device_name;
ALTER TABLE refresh_tokens DROP COLUMN device_id;
