-- The authorizations marked revoked (MarkRequestRevoked). A revoker marks
-- a request_id before it revokes the tokens and grants that exist; an
-- issuer stores its token or grant before it checks for the mark
-- (AuthorizationLive), and revokes what it stored when it finds one. A
-- mark only matters while an issuance is in flight, so PruneGrants
-- deletes those a day old.
CREATE TABLE oauth_revoked_requests (
    request_id text        COLLATE "C" PRIMARY KEY,
    revoked_at timestamptz NOT NULL
);
-- Pruning the old.
CREATE INDEX oauth_revoked_requests_revoked_at ON oauth_revoked_requests (revoked_at);
