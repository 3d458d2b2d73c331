DROP INDEX users_phone_number_key;
ALTER TABLE users DROP COLUMN phone_number;
