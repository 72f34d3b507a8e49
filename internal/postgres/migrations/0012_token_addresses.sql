-- Where a token may be used from (allowed_ips: a JSON array of CIDRs,
-- NULL for anywhere), and where it was used from: the address of its last
-- recorded use, and the distinct addresses of its recent uses (recent_ips:
-- a JSON array of {ip, first_seen, last_seen}, the latest first).
ALTER TABLE oauth_access_tokens ADD COLUMN allowed_ips text;
ALTER TABLE oauth_access_tokens ADD COLUMN last_used_ip text;
ALTER TABLE oauth_access_tokens ADD COLUMN recent_ips text;
