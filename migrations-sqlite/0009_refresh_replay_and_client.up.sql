-- Retry-safe rotation (issue 11): the seed the successor's text is derived from, set
-- with replaced_by when a token is rotated. Client binding (issue 14): the OAuth
-- client and scope the session was opened for, copied by every rotation.
ALTER TABLE refresh_tokens ADD COLUMN successor_seed BLOB
    CHECK (successor_seed IS NULL OR length(successor_seed) = 32);
ALTER TABLE refresh_tokens ADD COLUMN client_id TEXT
    CHECK (client_id IS NULL OR length(client_id) <= 255);
ALTER TABLE refresh_tokens ADD COLUMN scope TEXT
    CHECK (scope IS NULL OR length(scope) <= 1024);
