-- Device metadata and DPoP binding (issue 13): the device id and name the client gave
-- at login, and the RFC 7638 thumbprint of the DPoP key the session is bound to,
-- copied by every rotation.
ALTER TABLE refresh_tokens
    ADD COLUMN IF NOT EXISTS device_id VARCHAR(128),
    ADD COLUMN IF NOT EXISTS device_name VARCHAR(128),
    ADD COLUMN IF NOT EXISTS dpop_jkt VARCHAR(128);
