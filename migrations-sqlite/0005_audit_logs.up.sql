-- The append-only audit log. user_id is deliberately not a foreign key: the log is
-- history and outlives the rows it mentions.
CREATE TABLE audit_logs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    event_type TEXT    NOT NULL CHECK (length(event_type) BETWEEN 1 AND 32),
    user_id    INTEGER,
    session_id BLOB    CHECK (session_id IS NULL OR length(session_id) = 16),
    ip         TEXT    CHECK (ip IS NULL OR length(ip) <= 45),
    user_agent TEXT    CHECK (user_agent IS NULL OR length(user_agent) <= 512),
    details    TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(details)),
    created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX audit_logs_user_id_created_at_idx ON audit_logs (user_id, created_at);
CREATE INDEX audit_logs_event_type_created_at_idx ON audit_logs (event_type, created_at);
