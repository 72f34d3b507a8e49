-- The servers running on this database, each holding a lease it renews
-- while it hears every event, and the events each has applied: a change
-- waits until every server with a live lease has acknowledged it, or that
-- lease has run out (docs/architecture.md, "Revocation everywhere").
CREATE TABLE servers (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    lease_until TEXT NOT NULL
) STRICT;
CREATE TABLE event_acks (
    server_id TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    acked_at  TEXT NOT NULL,
    PRIMARY KEY (server_id, seq)
) STRICT, WITHOUT ROWID;
