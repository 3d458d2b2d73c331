ALTER TABLE refresh_tokens DROP COLUMN scope;
ALTER TABLE refresh_tokens DROP COLUMN client_id;
ALTER TABLE refresh_tokens DROP COLUMN successor_seed;
