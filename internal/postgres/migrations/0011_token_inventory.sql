-- The inventory: every user's tokens, newest first (GET /api/1.0/tokens,
-- and its CSV, which reads them all in that order). With this index a
-- page is a range of it and the CSV a scan of it, never a sort of the
-- whole table.
CREATE INDEX oauth_access_tokens_created
	ON oauth_access_tokens (created_at DESC, id DESC);
