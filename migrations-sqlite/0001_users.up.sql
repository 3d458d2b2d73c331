-- Users: credentials and the state access-token checks need.
-- Times are INTEGER unix microseconds (UTC); booleans are 0/1.
CREATE TABLE users (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    email              TEXT    UNIQUE CHECK (email IS NULL OR length(email) BETWEEN 1 AND 254),
    password_hash      TEXT    CHECK (password_hash IS NULL OR length(password_hash) <= 512),
    is_admin           INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    is_active          INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    is_verified        INTEGER NOT NULL DEFAULT 0 CHECK (is_verified IN (0, 1)),
    last_login         INTEGER,
    tokens_valid_after INTEGER,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
) STRICT;
