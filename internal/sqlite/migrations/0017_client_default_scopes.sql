-- The scopes an authorization request that names none is granted, as the
-- operator registered them for the client (latchkey client create
-- --default-scopes): separated by spaces, as OAuth's scope parameter
-- writes them; '' for none, when the server's --oauth-default-scopes
-- apply.
ALTER TABLE oauth_clients ADD COLUMN default_scopes TEXT NOT NULL DEFAULT '';
