-- The schema follows Laravel Passport's tables, so that an operator who knows
-- Passport finds their way, with the changes Latchkey needs: token names are
-- also stored folded for case-insensitive filtering and ordering, scopes are
-- a JSON array, and signing keys live in the database so that every replica
-- shares them.
--
-- Times are TEXT in the fixed-width UTC form 2006-01-02T15:04:05.000000Z,
-- which sorts as it compares. Booleans are INTEGER 0 or 1.

CREATE TABLE users (
	id               INTEGER PRIMARY KEY AUTOINCREMENT,
	username         TEXT    NOT NULL UNIQUE,
	email            TEXT    NOT NULL UNIQUE,
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

CREATE TABLE oauth_clients (
	id                     INTEGER PRIMARY KEY AUTOINCREMENT,
	user_id                INTEGER REFERENCES users (id),
	name                   TEXT    NOT NULL,
	secret                 TEXT,
	provider               TEXT,
	redirect               TEXT    NOT NULL,
	personal_access_client INTEGER NOT NULL DEFAULT 0 CHECK (personal_access_client IN (0, 1)),
	password_client        INTEGER NOT NULL DEFAULT 0 CHECK (password_client IN (0, 1)),
	revoked                INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
	created_at             TEXT    NOT NULL,
	updated_at             TEXT    NOT NULL
) STRICT;

CREATE INDEX oauth_clients_user_id ON oauth_clients (user_id);

INSERT INTO oauth_clients (id, name, redirect, personal_access_client, created_at, updated_at)
VALUES (
	1, 'Latchkey Personal Access Client', 'http://localhost', 1,
	strftime('%Y-%m-%dT%H:%M:%S', 'now') || substr(strftime('%f', 'now'), 3) || '000Z',
	strftime('%Y-%m-%dT%H:%M:%S', 'now') || substr(strftime('%f', 'now'), 3) || '000Z'
);

CREATE TABLE oauth_access_tokens (
	id           TEXT    PRIMARY KEY,
	user_id      INTEGER NOT NULL REFERENCES users (id),
	client_id    INTEGER NOT NULL REFERENCES oauth_clients (id),
	name         TEXT    NOT NULL,
	-- name_folded is the name lowercased in Go, for filtering and ordering.
	name_folded  TEXT    NOT NULL,
	scopes       TEXT    NOT NULL DEFAULT '[]',
	revoked      INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
	created_at   TEXT    NOT NULL,
	updated_at   TEXT    NOT NULL,
	expires_at   TEXT,
	last_used_at TEXT,
	key_id       TEXT    NOT NULL DEFAULT ''
) STRICT;

-- A user's token list, newest first.
CREATE INDEX oauth_access_tokens_user_created
	ON oauth_access_tokens (user_id, created_at DESC, id DESC);
-- The retired keys that still verify.
CREATE INDEX oauth_access_tokens_key_expires
	ON oauth_access_tokens (key_id, expires_at);
-- Revoking a client's tokens.
CREATE INDEX oauth_access_tokens_client_id
	ON oauth_access_tokens (client_id);

CREATE TABLE signing_keys (
	id                 TEXT PRIMARY KEY,
	algorithm          TEXT NOT NULL,
	public_key         BLOB NOT NULL,
	sealed_private_key BLOB NOT NULL,
	created_at         TEXT NOT NULL,
	retired_at         TEXT
) STRICT;

-- At most one key signs.
CREATE UNIQUE INDEX signing_keys_signing
	ON signing_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;
