ALTER TABLE refresh_tokens
    DROP COLUMN IF EXISTS scope,
    DROP COLUMN IF EXISTS client_id,
    DROP COLUMN IF EXISTS successor_seed;
