-- A username, and an email, is unique among the users that are not
-- deleted only: a deleted user keeps its own, and a new user may take it.
-- The columns' UNIQUE constraints cannot be dropped in SQLite, so the
-- table is built again without them, with the same rows and ids.
--
-- The migration runs in a transaction, where foreign_keys cannot be
-- turned off, and renaming a table that others reference would make their
-- foreign keys follow it. So the rows are set aside, the table dropped and
-- made again under its own name, which the other tables' foreign keys name,
-- and the rows put back. With the foreign keys deferred to the commit,
-- the drop leaves them pointing at no row for the moment, and putting the
-- rows back satisfies them again.
PRAGMA defer_foreign_keys = ON;

CREATE TABLE users_before_0008 AS SELECT * FROM users;
CREATE TABLE users_sequence_before_0008 AS
	SELECT seq FROM sqlite_sequence WHERE name = 'users';

DROP TABLE users;

CREATE TABLE users (
	id               INTEGER PRIMARY KEY AUTOINCREMENT,
	username         TEXT    NOT NULL,
	email            TEXT    NOT NULL,
	firstname        TEXT    NOT NULL DEFAULT '',
	lastname         TEXT    NOT NULL DEFAULT '',
	status           TEXT    NOT NULL DEFAULT 'ACTIVE',
	is_administrator INTEGER NOT NULL DEFAULT 0 CHECK (is_administrator IN (0, 1)),
	-- permissions is the sorted, comma-separated list of permission names.
	permissions      TEXT    NOT NULL DEFAULT '',
	password_hash    TEXT,
	-- search_folded holds username, email, firstname and lastname, each
	-- lowercased in Go and separated by a newline: SQLite's lower() folds
	-- ASCII only, and user search ignores case in every script.
	search_folded    TEXT    NOT NULL DEFAULT '',
	created_at       TEXT    NOT NULL,
	updated_at       TEXT    NOT NULL,
	deleted_at       TEXT
) STRICT;

INSERT INTO users (id, username, email, firstname, lastname, status,
	is_administrator, permissions, password_hash, search_folded,
	created_at, updated_at, deleted_at)
SELECT id, username, email, firstname, lastname, status,
	is_administrator, permissions, password_hash, search_folded,
	created_at, updated_at, deleted_at
FROM users_before_0008 ORDER BY id;

-- AUTOINCREMENT never gives an id twice: the counter carries over.
INSERT INTO sqlite_sequence (name, seq)
SELECT 'users', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'users');
UPDATE sqlite_sequence
SET seq = max(seq, coalesce((SELECT max(seq) FROM users_sequence_before_0008), 0))
WHERE name = 'users';

DROP TABLE users_before_0008;
DROP TABLE users_sequence_before_0008;

-- Who holds a username or email among the users not deleted: one at most.
CREATE UNIQUE INDEX users_username_live ON users (username) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX users_email_live ON users (email) WHERE deleted_at IS NULL;
-- Sign-in and the command line find users, deleted ones too, by either.
CREATE INDEX users_username ON users (username);
CREATE INDEX users_email ON users (email);
