-- When a token was revoked (NULL while it is live; for a token revoked
-- before this was kept, the time of its last change, which its revocation
-- set), and the rotation that linked it to another: rotated_from names the
-- token this one replaced, rotated_to the one that replaced it. A rotated
-- token still live is in its grace period; the sweep revokes it when that
-- ends, which the partial index finds.
ALTER TABLE oauth_access_tokens ADD COLUMN revoked_at TEXT;
ALTER TABLE oauth_access_tokens ADD COLUMN rotated_from TEXT;
ALTER TABLE oauth_access_tokens ADD COLUMN rotated_to TEXT;
UPDATE oauth_access_tokens SET revoked_at = updated_at WHERE revoked = 1;
CREATE INDEX oauth_access_tokens_in_grace
	ON oauth_access_tokens (expires_at) WHERE rotated_to IS NOT NULL AND revoked = 0;
