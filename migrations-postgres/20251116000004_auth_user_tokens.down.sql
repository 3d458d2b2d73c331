DROP TABLE IF EXISTS auth_user_tokens;
