DROP TABLE one_time_code_locks;
DROP TABLE one_time_codes;
ALTER TABLE auth_user DROP KEY auth_user_phone_number_key, DROP COLUMN phone_number;
