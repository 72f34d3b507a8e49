-- The outbox of notifications (docs/operations.md, "Notifications").
--
-- notifications: a change somebody is to hear of, written in the
-- transaction of the change (or by the expiry reminders, once per token
-- and threshold: dedupe). It is new until a server fans it out: marks it
-- fanned, stores its body (the JSON of a webhook's payload), and writes
-- its deliveries, in one transaction. Rows name users, tokens, clients and
-- audit records by id; only the owner is a foreign key.
CREATE TABLE notifications (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    msg_id         TEXT    NOT NULL UNIQUE,
    type           TEXT    NOT NULL,
    at             TEXT    NOT NULL,
    user_id        INTEGER NOT NULL REFERENCES users (id),
    token_id       TEXT    NOT NULL DEFAULT '',
    client_id      INTEGER,
    actor          TEXT    NOT NULL DEFAULT '',
    actor_user_id  INTEGER,
    actor_token_id TEXT    NOT NULL DEFAULT '',
    audit_id       INTEGER,
    detail         TEXT    NOT NULL DEFAULT '',
    dedupe         TEXT    UNIQUE,
    fanned         INTEGER NOT NULL DEFAULT 0 CHECK (fanned IN (0, 1)),
    body           BLOB,
    created_at     TEXT    NOT NULL
) STRICT;
-- The notifications not yet fanned out, oldest first.
CREATE INDEX notifications_new ON notifications (id) WHERE fanned = 0;

-- The endpoints an operator registered. events is the JSON array of the
-- types it gets, empty for every type; secret is sealed with the server's
-- secret.
CREATE TABLE webhooks (
    id         TEXT PRIMARY KEY,
    url        TEXT NOT NULL,
    events     TEXT NOT NULL DEFAULT '[]',
    secret     BLOB NOT NULL,
    created_at TEXT NOT NULL
) STRICT;

-- One notification on its way to one recipient: a webhook, or (webhook_id
-- NULL) the owner's mailbox. webhook_id is no foreign key: the deliveries
-- made and given up on outlive their webhook, as its history; deleting a
-- webhook deletes its pending ones. A pending delivery is due at next_at;
-- a server that claims it holds it until claimed_until.
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_id INTEGER NOT NULL REFERENCES notifications (id),
    webhook_id      TEXT,
    recipient       TEXT    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT    NOT NULL,
    next_at         TEXT    NOT NULL,
    delivered_at    TEXT,
    claimed_by      TEXT,
    claimed_until   TEXT,
    last_error      TEXT    NOT NULL DEFAULT '',
    last_status     INTEGER NOT NULL DEFAULT 0
) STRICT;
-- The pending deliveries, soonest due first, and the oldest of them.
CREATE INDEX deliveries_due ON deliveries (next_at, id) WHERE state = 'pending';
CREATE INDEX deliveries_pending_created ON deliveries (created_at) WHERE state = 'pending';
-- Counting those given up on.
CREATE INDEX deliveries_failed ON deliveries (id) WHERE state = 'failed';
-- The newest deliveries, of all recipients and of one webhook (or mail).
CREATE INDEX deliveries_created ON deliveries (created_at DESC, id DESC);
CREATE INDEX deliveries_webhook ON deliveries (webhook_id, created_at DESC, id DESC);

-- The kinds of mail a user chose not to get.
CREATE TABLE mail_off (
    user_id INTEGER NOT NULL REFERENCES users (id),
    type    TEXT    NOT NULL,
    PRIMARY KEY (user_id, type)
) STRICT, WITHOUT ROWID;

-- The live tokens by expiry, for the reminders.
CREATE INDEX oauth_access_tokens_expires
    ON oauth_access_tokens (expires_at, id) WHERE revoked = 0;
