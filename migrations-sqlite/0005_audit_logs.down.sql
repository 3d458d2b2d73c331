DROP INDEX audit_logs_event_type_created_at_idx;
DROP INDEX audit_logs_user_id_created_at_idx;
DROP TABLE audit_logs;
