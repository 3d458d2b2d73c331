-- Phone sign-in by one-time code (DESIGN section 9). users.phone_number (seed 002)
-- exists since the first migration and email is nullable, so phone-only users fit.
-- One row per code sent; the code itself is never stored: code_hash is
-- HMAC-SHA256(server secret, phone || 0x00 || code). Rows stay for the hourly limits.
CREATE TABLE IF NOT EXISTS one_time_codes (
    id           UUID PRIMARY KEY,
    phone_number VARCHAR(16) NOT NULL,
    code_hash    BYTEA NOT NULL CHECK (octet_length(code_hash) = 32),
    ip           VARCHAR(45),
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts INTEGER NOT NULL CHECK (max_attempts > 0),
    consumed_at  TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);

CREATE INDEX IF NOT EXISTS one_time_codes_phone_number_created_at_idx
    ON one_time_codes (phone_number, created_at);
CREATE INDEX IF NOT EXISTS one_time_codes_ip_created_at_idx ON one_time_codes (ip, created_at);
