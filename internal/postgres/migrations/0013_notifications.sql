-- The outbox of notifications (docs/operations.md, "Notifications").
--
-- notifications: a change somebody is to hear of, written in the
-- transaction of the change (or by the expiry reminders, once per token
-- and threshold: dedupe). It is new until a server fans it out: marks it
-- fanned, stores its body (the JSON of a webhook's payload, kept byte for
-- byte), and writes its deliveries, in one transaction. Rows name users,
-- tokens, clients and audit records by id; only the owner is a foreign
-- key.
CREATE TABLE notifications (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    msg_id         text        COLLATE "C" NOT NULL UNIQUE,
    type           text        NOT NULL,
    at             timestamptz NOT NULL,
    user_id        bigint      NOT NULL REFERENCES users (id),
    token_id       text        COLLATE "C" NOT NULL DEFAULT '',
    client_id      bigint,
    actor          text        NOT NULL DEFAULT '',
    actor_user_id  bigint,
    actor_token_id text        NOT NULL DEFAULT '',
    audit_id       bigint,
    detail         text        NOT NULL DEFAULT '',
    dedupe         text        COLLATE "C" UNIQUE,
    fanned         boolean     NOT NULL DEFAULT false,
    body           bytea,
    created_at     timestamptz NOT NULL
);
-- The notifications not yet fanned out, oldest first.
CREATE INDEX notifications_new ON notifications (id) WHERE NOT fanned;

-- The endpoints an operator registered. events lists the types it gets,
-- none for every type; secret is sealed with the server's secret.
CREATE TABLE webhooks (
    id         text        COLLATE "C" PRIMARY KEY,
    url        text        NOT NULL,
    events     text[]      NOT NULL DEFAULT '{}',
    secret     bytea       NOT NULL,
    created_at timestamptz NOT NULL
);

-- One notification on its way to one recipient: a webhook, or (webhook_id
-- NULL) the owner's mailbox. webhook_id is no foreign key: the deliveries
-- made and given up on outlive their webhook, as its history; deleting a
-- webhook deletes its pending ones, and a fan-out holds the webhooks it
-- writes deliveries for (FOR KEY SHARE) as a foreign key would. A pending
-- delivery is due at next_at; a server that claims it holds it until
-- claimed_until.
CREATE TABLE deliveries (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    notification_id bigint      NOT NULL REFERENCES notifications (id),
    webhook_id      text        COLLATE "C",
    recipient       text        NOT NULL,
    state           text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL,
    next_at         timestamptz NOT NULL,
    delivered_at    timestamptz,
    claimed_by      text,
    claimed_until   timestamptz,
    last_error      text        NOT NULL DEFAULT '',
    last_status     integer     NOT NULL DEFAULT 0
);
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
    user_id bigint NOT NULL REFERENCES users (id),
    type    text   NOT NULL,
    PRIMARY KEY (user_id, type)
);

-- The live tokens by expiry, for the reminders.
CREATE INDEX oauth_access_tokens_expires
    ON oauth_access_tokens (expires_at, id) WHERE NOT revoked;
