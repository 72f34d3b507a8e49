-- The resource servers the operator registered (RFC 8707; latchkey
-- resource create): uri in the normal form latchkey.NormalizeResourceURI
-- gives it, which requests are compared with; scopes those it
-- understands, separated by spaces as OAuth's scope parameter writes
-- them.
CREATE TABLE resources (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    uri        TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;

-- The resource an access token was issued for: its aud. '' for a token
-- for Latchkey's own API, whose aud is its client's id.
ALTER TABLE oauth_access_tokens ADD COLUMN audience TEXT NOT NULL DEFAULT '';
