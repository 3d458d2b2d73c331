-- The append-only audit log (seed 003). Never holds a token.
CREATE TABLE audit_logs (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  event_type VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  user_id BIGINT NULL,
  session_id BINARY(16) NULL,
  ip VARCHAR(45) CHARACTER SET ascii COLLATE ascii_bin NULL,
  user_agent VARCHAR(512) NULL,
  details JSON NOT NULL,
  created_at DATETIME(6) NOT NULL,
  KEY audit_logs_user_id_created_at (user_id, created_at),
  KEY audit_logs_event_type_created_at (event_type, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
