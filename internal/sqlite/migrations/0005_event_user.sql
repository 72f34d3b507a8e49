-- The user a token event concerns, so that listeners drop only that
-- user's cached list.
ALTER TABLE events ADD COLUMN user_id INTEGER NOT NULL DEFAULT 0;
