-- A username, and an email, is unique among the users that are not
-- deleted only: a deleted user keeps its own, and a new user may take it.
ALTER TABLE users DROP CONSTRAINT users_username_key;
ALTER TABLE users DROP CONSTRAINT users_email_key;

-- Who holds a username or email among the users not deleted: one at most.
CREATE UNIQUE INDEX users_username_live ON users (username) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX users_email_live ON users (email) WHERE deleted_at IS NULL;
-- Sign-in and the command line find users, deleted ones too, by either.
CREATE INDEX users_username ON users (username);
CREATE INDEX users_email ON users (email);
