-- The resource servers the operator registered (RFC 8707; latchkey
-- resource create): uri in the normal form latchkey.NormalizeResourceURI
-- gives it, which requests are compared with (byte for byte: COLLATE
-- "C"); scopes those it understands, separated by spaces as OAuth's scope
-- parameter writes them.
CREATE TABLE resources (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uri        text        COLLATE "C" NOT NULL UNIQUE,
    name       text        NOT NULL,
    scopes     text        NOT NULL,
    created_at timestamptz NOT NULL
);

-- The resource an access token was issued for: its aud. '' for a token
-- for Latchkey's own API, whose aud is its client's id.
ALTER TABLE oauth_access_tokens ADD COLUMN audience text NOT NULL DEFAULT '';
