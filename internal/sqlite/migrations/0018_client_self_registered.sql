-- A client that registered itself at /oauth/register (RFC 7591) rather
-- than being created by the operator. One that has issued no token is
-- deleted 30 days after it registered; the partial index finds them.
ALTER TABLE oauth_clients ADD COLUMN self_registered INTEGER NOT NULL DEFAULT 0 CHECK (self_registered IN (0, 1));
CREATE INDEX oauth_clients_self_registered ON oauth_clients (created_at) WHERE self_registered = 1;
