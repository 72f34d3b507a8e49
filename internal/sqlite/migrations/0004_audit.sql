-- The audit log: who did what, when, from where. Records keep user ids
-- without foreign keys, so that they outlive what they speak of.
CREATE TABLE audit_log (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    at              TEXT    NOT NULL,
    action          TEXT    NOT NULL,
    actor_user_id   INTEGER,
    actor_token_id  TEXT    NOT NULL DEFAULT '',
    subject_user_id INTEGER,
    subject_id      TEXT    NOT NULL DEFAULT '',
    address         TEXT    NOT NULL DEFAULT '',
    user_agent      TEXT    NOT NULL DEFAULT '',
    detail          TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX audit_log_at ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_action ON audit_log (action, at DESC, id DESC);
CREATE INDEX audit_log_actor ON audit_log (actor_user_id, at DESC);
CREATE INDEX audit_log_subject ON audit_log (subject_user_id, at DESC);
