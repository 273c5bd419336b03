-- Ending logins (issue 21): a login token carries its user's session epoch, and logging out,
-- changing the password or disabling the user moves the epoch on, so every token issued before
-- stops working at once. A disabled user cannot log in.
ALTER TABLE private.users ADD COLUMN session_epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE private.users ADD COLUMN disabled_at TIMESTAMPTZ;
