-- The number of each event (NOTIFY carries it), the servers running on
-- this database, each holding a lease it renews while it hears every
-- event, and the events each has applied: a change waits until every
-- server with a live lease has acknowledged it, or that lease has run out
-- (docs/architecture.md, "Revocation everywhere").
CREATE SEQUENCE event_seq;
CREATE TABLE servers (
	id          text COLLATE "C" PRIMARY KEY,
	name        text NOT NULL,
	lease_until timestamptz NOT NULL
);
CREATE TABLE event_acks (
	server_id text COLLATE "C" NOT NULL,
	seq       bigint NOT NULL,
	acked_at  timestamptz NOT NULL,
	PRIMARY KEY (server_id, seq)
);
