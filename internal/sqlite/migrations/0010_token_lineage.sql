-- Token lineage: the token whose bearer made this one through the API
-- (NULL when it was made in the web pages, at the command line or by the
-- OAuth token endpoint), and why a revoked token was revoked ('' for one
-- revoked before reasons were kept). Revoking a token revokes its
-- descendants, which the index on parent_id finds.
ALTER TABLE oauth_access_tokens ADD COLUMN parent_id TEXT;
ALTER TABLE oauth_access_tokens ADD COLUMN revoked_reason TEXT NOT NULL DEFAULT '';
CREATE INDEX oauth_access_tokens_parent
	ON oauth_access_tokens (parent_id) WHERE parent_id IS NOT NULL;
