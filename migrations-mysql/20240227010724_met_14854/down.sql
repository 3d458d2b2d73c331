DROP TABLE auth_user_tokens;
