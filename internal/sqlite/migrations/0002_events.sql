-- Changes every process on this database must hear of: a token revoked, a
-- user changed, a client revoked, the keys changed. Servers poll it, so a
-- token revoked at the command line is refused by a running server too.
CREATE TABLE events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL,
    ref        TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
CREATE INDEX events_created_at ON events (created_at);
