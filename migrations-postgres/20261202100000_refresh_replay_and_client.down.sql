ALTER TABLE refresh_tokens
    DROP COLUMN scope,
    DROP COLUMN client_id,
    DROP COLUMN successor_seed;
