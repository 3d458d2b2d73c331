ALTER TABLE auth_user_tokens
  DROP KEY auth_user_tokens_live_session_key,
  DROP COLUMN live_session_id;
