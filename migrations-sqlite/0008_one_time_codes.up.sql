-- One row per one-time code sent. The code itself is never stored: code_hash is
-- HMAC-SHA256(server secret, phone || 0x00 || code). Rows stay for the hourly limits.
CREATE TABLE one_time_codes (
    id           BLOB    PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    phone_number TEXT    NOT NULL CHECK (length(phone_number) BETWEEN 2 AND 16),
    code_hash    BLOB    NOT NULL CHECK (length(code_hash) = 32),
    ip           TEXT    CHECK (ip IS NULL OR length(ip) <= 45),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts INTEGER NOT NULL CHECK (max_attempts > 0),
    consumed_at  INTEGER,
    revoked_at   INTEGER
) STRICT, WITHOUT ROWID;

CREATE INDEX one_time_codes_phone_number_created_at_idx ON one_time_codes (phone_number, created_at);
CREATE INDEX one_time_codes_ip_created_at_idx ON one_time_codes (ip, created_at);
