-- Device metadata and DPoP binding (issue 13): the device id and name the client gave
-- at login, and the RFC 7638 thumbprint of the DPoP key the session is bound to,
-- copied by every rotation.
ALTER TABLE refresh_tokens ADD COLUMN device_id TEXT
    CHECK (device_id IS NULL OR length(device_id) <= 128);
ALTER TABLE refresh_tokens ADD COLUMN device_name TEXT
    CHECK (device_name IS NULL OR length(device_name) <= 128);
ALTER TABLE refresh_tokens ADD COLUMN dpop_jkt TEXT
    CHECK (dpop_jkt IS NULL OR length(dpop_jkt) <= 128);
