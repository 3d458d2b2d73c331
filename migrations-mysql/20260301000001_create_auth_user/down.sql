DROP TABLE auth_user;
