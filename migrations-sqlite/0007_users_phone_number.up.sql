-- Phone sign-in by one-time code (DESIGN section 9): users may sign in by phone alone
-- (email is already nullable); the column is named as in seed 002's users table.
ALTER TABLE users ADD COLUMN phone_number TEXT
    CHECK (phone_number IS NULL OR length(phone_number) BETWEEN 2 AND 16);
CREATE UNIQUE INDEX users_phone_number_key ON users (phone_number);
