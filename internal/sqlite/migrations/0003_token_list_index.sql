-- The indexes of a user's token list, which hold what the list filters
-- on, so that counting the tokens and skipping to a page read no table
-- row. The API lists the personal tokens that are not revoked, newest
-- first: the first index holds that list in order; the second, which
-- replaces oauth_access_tokens_user_created, every list of a user, newest
-- first.
CREATE INDEX oauth_access_tokens_user_list
	ON oauth_access_tokens (user_id, revoked, client_id, created_at DESC, id DESC);
CREATE INDEX oauth_access_tokens_user_created_covering
	ON oauth_access_tokens (user_id, created_at DESC, id DESC, revoked, client_id);
DROP INDEX oauth_access_tokens_user_created;
