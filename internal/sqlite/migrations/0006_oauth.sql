-- The authorization server's state: the grants of the authorization code
-- flow, users' consents to applications, and web sign-in sessions. Codes,
-- refresh tokens and session secrets are never stored, only their hashes.
--
-- A grant is found by its kind and signature: the hex SHA-256 of a code's
-- or refresh token's signature, or, for an access grant, the id of its row
-- in oauth_access_tokens. The grants of one authorization share a
-- request_id, by which a reused code or refresh token revokes them all.
CREATE TABLE oauth_grants (
    kind       TEXT    NOT NULL CHECK (kind IN ('code', 'refresh', 'pkce', 'access')),
    signature  TEXT    NOT NULL,
    request_id TEXT    NOT NULL,
    client_id  INTEGER NOT NULL REFERENCES oauth_clients (id),
    user_id    INTEGER NOT NULL REFERENCES users (id),
    active     INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    -- request is the authorization request as the service serialized it.
    request    BLOB    NOT NULL,
    created_at TEXT    NOT NULL,
    expires_at TEXT    NOT NULL,
    PRIMARY KEY (kind, signature)
) STRICT;
-- The grants of one authorization, of one kind.
CREATE INDEX oauth_grants_request ON oauth_grants (request_id, kind);
-- Revoking a user's consent to a client.
CREATE INDEX oauth_grants_user_client ON oauth_grants (user_id, client_id);
-- Revoking a client.
CREATE INDEX oauth_grants_client_id ON oauth_grants (client_id);
-- Pruning the expired.
CREATE INDEX oauth_grants_expires_at ON oauth_grants (expires_at);

-- A user's approval of an application: the scopes, a JSON array, that the
-- user lets it have.
CREATE TABLE oauth_consents (
    user_id    INTEGER NOT NULL REFERENCES users (id),
    client_id  INTEGER NOT NULL REFERENCES oauth_clients (id),
    scopes     TEXT    NOT NULL DEFAULT '[]',
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (user_id, client_id)
) STRICT;

-- A person signed in to the web pages; id is the hex SHA-256 of the
-- cookie's secret.
CREATE TABLE web_sessions (
    id         TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    created_at TEXT    NOT NULL,
    expires_at TEXT    NOT NULL,
    address    TEXT    NOT NULL DEFAULT '',
    user_agent TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX web_sessions_user_id ON web_sessions (user_id);
CREATE INDEX web_sessions_expires_at ON web_sessions (expires_at);
