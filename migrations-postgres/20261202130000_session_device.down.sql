ALTER TABLE refresh_tokens
    DROP COLUMN IF EXISTS dpop_jkt,
    DROP COLUMN IF EXISTS device_name,
    DROP COLUMN IF EXISTS device_id;
