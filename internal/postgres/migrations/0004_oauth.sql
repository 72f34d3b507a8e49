-- The authorization server's state: the grants of the authorization code
-- flow, users' consents to applications, and web sign-in sessions. Codes,
-- refresh tokens and session secrets are never stored, only their hashes.
--
-- A grant is found by its kind and signature: the hex SHA-256 of a code's
-- or refresh token's signature, or, for an access grant, the id of its row
-- in oauth_access_tokens. The grants of one authorization share a
-- request_id, by which a reused code or refresh token revokes them all.
CREATE TABLE oauth_grants (
    kind       text    COLLATE "C" NOT NULL CHECK (kind IN ('code', 'refresh', 'pkce', 'access')),
    signature  text    COLLATE "C" NOT NULL,
    request_id text    COLLATE "C" NOT NULL,
    client_id  bigint  NOT NULL REFERENCES oauth_clients (id),
    user_id    bigint  NOT NULL REFERENCES users (id),
    active     boolean NOT NULL DEFAULT true,
    -- request is the authorization request as the service serialized it.
    request    bytea   NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (kind, signature)
);
-- The grants of one authorization, of one kind.
CREATE INDEX oauth_grants_request ON oauth_grants (request_id, kind);
-- Revoking a user's consent to a client.
CREATE INDEX oauth_grants_user_client ON oauth_grants (user_id, client_id);
-- Revoking a client.
CREATE INDEX oauth_grants_client_id ON oauth_grants (client_id);
-- Pruning the expired.
CREATE INDEX oauth_grants_expires_at ON oauth_grants (expires_at);

-- A user's approval of an application: the scopes the user lets it have.
CREATE TABLE oauth_consents (
    user_id    bigint NOT NULL REFERENCES users (id),
    client_id  bigint NOT NULL REFERENCES oauth_clients (id),
    scopes     text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- A person signed in to the web pages; id is the hex SHA-256 of the
-- cookie's secret.
CREATE TABLE web_sessions (
    id         text   COLLATE "C" PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    address    text   NOT NULL DEFAULT '',
    user_agent text   NOT NULL DEFAULT ''
);
CREATE INDEX web_sessions_user_id ON web_sessions (user_id);
CREATE INDEX web_sessions_expires_at ON web_sessions (expires_at);
