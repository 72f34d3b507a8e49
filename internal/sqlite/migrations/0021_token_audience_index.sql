-- The tokens issued for a resource server, which deleting it revokes
-- (DeleteResource). Only tokens for a resource are in it: a personal
-- token, whose audience is '', costs its create nothing here.
CREATE INDEX oauth_access_tokens_audience ON oauth_access_tokens (audience) WHERE audience <> '';
