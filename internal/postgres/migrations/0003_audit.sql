-- The audit log: who did what, when, from where. Records keep user ids
-- without foreign keys, so that they outlive what they speak of.
CREATE TABLE audit_log (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              timestamptz NOT NULL,
    action          text        NOT NULL,
    actor_user_id   bigint,
    actor_token_id  text        NOT NULL DEFAULT '',
    subject_user_id bigint,
    subject_id      text        NOT NULL DEFAULT '',
    address         text        NOT NULL DEFAULT '',
    user_agent      text        NOT NULL DEFAULT '',
    detail          text        NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_action ON audit_log (action, at DESC, id DESC);
CREATE INDEX audit_log_actor ON audit_log (actor_user_id, at DESC);
CREATE INDEX audit_log_subject ON audit_log (subject_user_id, at DESC);
