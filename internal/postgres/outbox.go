package postgres

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqlschema"
	"github.com/latchkey/latchkey/internal/storeerr"
)

// nullInt returns n, or nil (NULL) for 0.
func nullInt(n int64) *int64 {
	if n == 0 {
		return nil
	}
	return &n
}

// AddNotification stores n and sets n.ID and n.MsgID (a new one, unless n
// has one), unless n.Dedupe is in the outbox already: then it stores
// nothing, leaves n as it was, and returns false. Of two calls with one
// dedupe key at once, one stores its notification and the other waits for
// it to commit, then stores nothing. The notification is created at n.At.
func (db *DB) AddNotification(ctx context.Context, n *latchkey.Notification) (bool, error) {
	const q = `INSERT INTO notifications (msg_id, type, at, user_id, token_id, client_id,
		actor, actor_user_id, actor_token_id, audit_id, detail, dedupe, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $3)
		ON CONFLICT (dedupe) DO NOTHING
		RETURNING id`
	msgID := n.MsgID
	if msgID == "" {
		msgID = latchkey.NewMsgID()
	}
	var id int64
	err := retry(ctx, func() error {
		return db.pool.QueryRow(ctx, q, msgID, string(n.Type), storedTime(n.At), n.UserID, n.TokenID,
			nullInt(n.ClientID), string(n.Actor), n.ActorUserID, n.ActorTokenID, nullInt(n.AuditID), n.Detail,
			nullText(n.Dedupe)).Scan(&id)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, wrap("add notification", err)
	}
	n.ID, n.MsgID, n.At = id, msgID, storedTime(n.At).UTC()
	return true, nil
}

// scanNotificationInfo reads one row of sqlschema.NotificationInfoColumns.
func scanNotificationInfo(r pgx.Row) (*latchkey.NotificationInfo, error) {
	n := &latchkey.Notification{}
	info := &latchkey.NotificationInfo{Notification: n}
	var clientID, auditID *int64
	var dedupe *string
	err := r.Scan(&n.ID, &n.MsgID, (*string)(&n.Type), &n.At, &n.UserID, &n.TokenID, &clientID,
		(*string)(&n.Actor), &n.ActorUserID, &n.ActorTokenID, &auditID, &n.Detail,
		&dedupe, &info.Username, &info.Email, &info.UserDisabled, &info.ActorUsername)
	if err != nil {
		return nil, err
	}
	if clientID != nil {
		n.ClientID = *clientID
	}
	if auditID != nil {
		n.AuditID = *auditID
	}
	if dedupe != nil {
		n.Dedupe = *dedupe
	}
	return info, nil
}

// NewNotifications returns up to most notifications not yet fanned out
// (0: all), oldest first, each with its owner, the mail the owner turned
// off, its token with the token's client, its client, and the username of
// who acted; all read from one snapshot.
func (db *DB) NewNotifications(ctx context.Context, most int) ([]*latchkey.NotificationInfo, error) {
	var infos []*latchkey.NotificationInfo
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	err := db.tx(ctx, opts, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+sqlschema.NotificationInfoColumns+sqlschema.NotificationInfoFrom+`
			WHERE NOT n.fanned ORDER BY n.id LIMIT $1`, limit(most))
		if err != nil {
			return err
		}
		if infos, err = collect(rows, scanNotificationInfo); err != nil || len(infos) == 0 {
			return err
		}
		return fillNotificationInfos(ctx, tx, infos)
	})
	if err != nil {
		return nil, wrap("new notifications", err)
	}
	return infos, nil
}

// fillNotificationInfos reads in tx what infos refer to: their tokens,
// clients, and the mail their owners turned off.
func fillNotificationInfos(ctx context.Context, tx pgx.Tx, infos []*latchkey.NotificationInfo) error {
	var tokenIDs []string
	var clientIDs, userIDs []int64
	for _, info := range infos {
		if info.TokenID != "" && !slices.Contains(tokenIDs, info.TokenID) {
			tokenIDs = append(tokenIDs, info.TokenID)
		}
		if info.ClientID != 0 && !slices.Contains(clientIDs, info.ClientID) {
			clientIDs = append(clientIDs, info.ClientID)
		}
		if !slices.Contains(userIDs, info.UserID) {
			userIDs = append(userIDs, info.UserID)
		}
	}
	tokens := map[string]*latchkey.Token{}
	if len(tokenIDs) > 0 {
		rows, err := tx.Query(ctx, `SELECT `+sqlschema.TokenColumns+`, `+sqlschema.ClientColumns+sqlschema.TokenFrom+`
			WHERE t.id = ANY($1)`, tokenIDs)
		if err != nil {
			return err
		}
		list, err := collect(rows, scanToken)
		if err != nil {
			return err
		}
		for _, t := range list {
			tokens[t.ID] = t
		}
	}
	clients := map[int64]*latchkey.Client{}
	if len(clientIDs) > 0 {
		rows, err := tx.Query(ctx, `SELECT `+sqlschema.ClientColumns+` FROM oauth_clients c WHERE c.id = ANY($1)`, clientIDs)
		if err != nil {
			return err
		}
		list, err := collect(rows, scanClient)
		if err != nil {
			return err
		}
		for _, c := range list {
			clients[c.ID] = c
		}
	}
	rows, err := tx.Query(ctx, `SELECT user_id, type FROM mail_off WHERE user_id = ANY($1) ORDER BY user_id, type`, userIDs)
	if err != nil {
		return err
	}
	defer rows.Close()
	off := map[int64][]latchkey.NotificationType{}
	for rows.Next() {
		var user int64
		var typ string
		if err := rows.Scan(&user, &typ); err != nil {
			return err
		}
		off[user] = append(off[user], latchkey.NotificationType(typ))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	// Each info gets values of its own: two may share a token or client.
	for _, info := range infos {
		if t, ok := tokens[info.TokenID]; ok {
			c := *t
			c.Client = cloneClient(t.Client)
			info.Token = &c
		}
		if c, ok := clients[info.ClientID]; ok {
			info.Client = cloneClient(c)
		}
		info.MailOff = slices.Clone(off[info.UserID])
	}
	return nil
}

// cloneClient returns a deep copy of c.
func cloneClient(c *latchkey.Client) *latchkey.Client {
	cc := *c
	if c.UserID != nil {
		id := *c.UserID
		cc.UserID = &id
	}
	if c.Provider != nil {
		p := *c.Provider
		cc.Provider = &p
	}
	return &cc
}

// FanOut marks notification id fanned out with body, and stores ds, its
// deliveries, pending, due at their NextAt (their CreatedAt when it is
// zero), in one transaction, and sets their IDs. Of two fan-outs of one
// notification at once, the second waits for the first's row lock, then
// finds the notification fanned out: it stores nothing and returns false,
// as it does for a notification that does not exist. The webhooks of ds
// are held (FOR KEY SHARE) until the transaction ends, so that a
// DeleteWebhook either waits and then deletes the deliveries stored here,
// or deleted the webhook first, and FanOut fails. ENOTFOUND when a
// delivery's webhook does not exist.
func (db *DB) FanOut(ctx context.Context, id int64, body []byte, ds []*latchkey.Delivery) (bool, error) {
	const insert = `INSERT INTO deliveries (notification_id, webhook_id, recipient, state, attempts, created_at, next_at)
		VALUES ($1, $2, $3, 'pending', 0, $4, $5) RETURNING id`
	var fanned bool
	err := db.tx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		fanned = false
		tag, err := tx.Exec(ctx, `UPDATE notifications SET fanned = true, body = $2 WHERE id = $1 AND NOT fanned`, id, blob(body))
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		if err := holdWebhooks(ctx, tx, ds); err != nil {
			return err
		}
		if len(ds) > 0 {
			var b pgx.Batch
			for _, d := range ds {
				b.Queue(insert, id, nullText(d.WebhookID), d.Recipient, storedTime(d.CreatedAt), storedTime(dueAt(d)))
			}
			results := tx.SendBatch(ctx, &b)
			for _, d := range ds {
				if err := results.QueryRow().Scan(&d.ID); err != nil {
					results.Close()
					return err
				}
			}
			if err := results.Close(); err != nil {
				return err
			}
		}
		fanned = true
		return nil
	})
	if err != nil {
		return false, wrap("fan out", err)
	}
	if fanned {
		for _, d := range ds {
			next := dueAt(d)
			d.NotificationID, d.State, d.Attempts = id, latchkey.DeliveryPending, 0
			d.CreatedAt, d.NextAt = storedTime(d.CreatedAt).UTC(), storedTime(next).UTC()
		}
	}
	return fanned, nil
}

// dueAt returns when d is first due: its NextAt, or its CreatedAt when
// NextAt is zero.
func dueAt(d *latchkey.Delivery) time.Time {
	if d.NextAt.IsZero() {
		return d.CreatedAt
	}
	return d.NextAt
}

// holdWebhooks locks (FOR KEY SHARE) the webhook of each delivery of ds,
// other than mail, as a foreign key would, and returns ENOTFOUND unless
// each exists.
func holdWebhooks(ctx context.Context, tx pgx.Tx, ds []*latchkey.Delivery) error {
	var ids []string
	for _, d := range ds {
		if d.WebhookID != "" && !slices.Contains(ids, d.WebhookID) {
			ids = append(ids, d.WebhookID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT id FROM webhooks WHERE id = ANY($1) FOR KEY SHARE`, ids)
	if err != nil {
		return err
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err == nil && len(found) != len(ids) {
		err = storeerr.NotFound(storeerr.MsgWebhookNotFound, nil)
	}
	return err
}

// deliveryFields returns the scan destinations of sqlschema.DeliveryColumns
// in d.
func deliveryFields(d *latchkey.Delivery) []any {
	return []any{&d.ID, &d.NotificationID, nullTextColumn{&d.WebhookID}, &d.Recipient, (*string)(&d.State), &d.Attempts,
		&d.CreatedAt, &d.NextAt, &d.DeliveredAt, &d.LastError, &d.LastStatus,
		&d.MsgID, (*string)(&d.Type)}
}

// scanDelivery reads one row of sqlschema.DeliveryColumns.
func scanDelivery(r pgx.Row) (*latchkey.Delivery, error) {
	var d latchkey.Delivery
	return &d, r.Scan(deliveryFields(&d)...)
}

// scanClaimed reads one row of sqlschema.ClaimedColumns: a webhook's
// delivery goes to the webhook's URL.
func scanClaimed(r pgx.Row) (*latchkey.Delivery, error) {
	var d latchkey.Delivery
	var url string
	if err := r.Scan(append(deliveryFields(&d), &d.Body, &d.Secret, nullTextColumn{&url})...); err != nil {
		return nil, err
	}
	if url != "" {
		d.Recipient = url
	}
	return &d, nil
}

// ClaimDeliveries claims for server, until until, up to most pending
// deliveries (0: all) due at now whose claims have run out, those never
// tried first, then the soonest due, and returns them with what to send,
// in one statement. It locks
// the deliveries it claims, skipping those another claim holds locked
// (FOR UPDATE SKIP LOCKED); one that another claim committed meanwhile no
// longer passes the test of its claim, which PostgreSQL makes again on
// the row it locks. So no two servers claim a delivery at once.
func (db *DB) ClaimDeliveries(ctx context.Context, server string, now, until time.Time, most int) ([]*latchkey.Delivery, error) {
	const q = `WITH due AS (
			SELECT id FROM deliveries
			WHERE state = 'pending' AND next_at <= $3 AND (claimed_until IS NULL OR claimed_until <= $3)
			ORDER BY attempts = 0 DESC, next_at, id LIMIT $4
			FOR UPDATE SKIP LOCKED),
		claimed AS (
			UPDATE deliveries d SET claimed_by = $1, claimed_until = $2
			FROM due WHERE d.id = due.id
			RETURNING d.*)
		SELECT ` + sqlschema.ClaimedColumns + ` FROM claimed d
		JOIN notifications n ON n.id = d.notification_id
		LEFT JOIN webhooks w ON w.id = d.webhook_id
		ORDER BY d.attempts = 0 DESC, d.next_at, d.id`
	var ds []*latchkey.Delivery
	err := retry(ctx, func() error {
		rows, err := db.pool.Query(ctx, q, server, storedTime(until), storedTime(now), limit(most))
		if err != nil {
			return err
		}
		ds, err = collect(rows, scanClaimed)
		return err
	})
	if err != nil {
		return nil, wrap("claim deliveries", err)
	}
	return ds, nil
}

// attemptOutcome returns what a records: the state of the delivery after
// it, when it was delivered (nil for not), and when it is next due (nil
// for no change).
func attemptOutcome(a latchkey.Attempt) (latchkey.DeliveryState, *time.Time, *time.Time) {
	switch {
	case a.Err == "":
		at := a.At
		return latchkey.DeliveryDelivered, &at, nil
	case a.NextAt != nil:
		return latchkey.DeliveryPending, nil, a.NextAt
	}
	return latchkey.DeliveryFailed, nil, nil
}

// RecordAttempt records a, if a.Server still holds the claim on a pending
// delivery, and releases the claim; false when the claim was lost. A claim
// that ran out is held until another server claims the delivery: the
// outcome of a slow attempt is still recorded then.
func (db *DB) RecordAttempt(ctx context.Context, a latchkey.Attempt) (bool, error) {
	state, delivered, next := attemptOutcome(a)
	var n int64
	err := retry(ctx, func() error {
		tag, err := db.pool.Exec(ctx,
			`UPDATE deliveries SET attempts = attempts + 1, last_error = $1, last_status = $2,
				state = $3, delivered_at = $4, next_at = coalesce($5, next_at),
				claimed_by = NULL, claimed_until = NULL
			WHERE id = $6 AND claimed_by = $7 AND state = 'pending'`,
			a.Err, a.Status, string(state), storedNullTime(delivered), storedNullTime(next), a.DeliveryID, a.Server)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return false, wrap("record attempt", err)
	}
	return n == 1, nil
}

// Deliveries returns the newest deliveries, most of them (0: all), of the
// webhook id if it is not "" ("mail" for mail), each with its
// notification's MsgID and Type.
func (db *DB) Deliveries(ctx context.Context, webhookID string, most int) ([]*latchkey.Delivery, error) {
	where, args := ``, []any{limit(most)}
	switch webhookID {
	case "":
	case "mail":
		where = ` WHERE d.webhook_id IS NULL`
	default:
		where, args = ` WHERE d.webhook_id = $2`, append(args, webhookID)
	}
	rows, err := db.pool.Query(ctx, `SELECT `+sqlschema.DeliveryColumns+sqlschema.DeliveryFrom+where+`
		ORDER BY d.created_at DESC, d.id DESC LIMIT $1`, args...)
	if err != nil {
		return nil, wrap("deliveries", err)
	}
	ds, err := collect(rows, scanDelivery)
	if err != nil {
		return nil, wrap("deliveries", err)
	}
	return ds, nil
}

// OutboxStats says how the outbox stands, read by one statement.
func (db *DB) OutboxStats(ctx context.Context) (latchkey.OutboxStats, error) {
	var st latchkey.OutboxStats
	// least ignores NULL: it is NULL only when both are.
	err := db.pool.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM notifications WHERE NOT fanned),
			(SELECT count(*) FROM deliveries WHERE state = 'pending'),
			(SELECT count(*) FROM deliveries WHERE state = 'failed'),
			least((SELECT min(created_at) FROM notifications WHERE NOT fanned),
				(SELECT min(created_at) FROM deliveries WHERE state = 'pending'))`,
	).Scan(&st.New, &st.Pending, &st.Failed, &st.Oldest)
	if err != nil {
		return st, wrap("outbox stats", err)
	}
	return st, nil
}

// PruneOutbox deletes the deliveries delivered or failed that were created
// before before, then the notifications fanned out and created before
// before that have no delivery left, in one READ COMMITTED transaction,
// and says how many rows it deleted in all. Neither statement waits on
// the outbox's other writers: they change only pending deliveries and
// notifications not yet fanned out, which a statement's snapshot shows it
// as not to be deleted, and a fan-out's deliveries commit with the
// notification they make fanned. The deliveries are found by
// deliveries_created, the notifications by notifications_fanned_created,
// and what deliveries a notification has (the NOT EXISTS, and the check
// of the foreign key) by deliveries_notification: the work grows with the
// rows older than before, not with the outbox.
func (db *DB) PruneOutbox(ctx context.Context, before time.Time) (int64, error) {
	cut := storedTime(before)
	var n int64
	err := db.tx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		n = 0
		for _, q := range []string{
			`DELETE FROM deliveries WHERE created_at < $1 AND state IN ('delivered', 'failed')`,
			`DELETE FROM notifications n WHERE n.fanned AND n.created_at < $1
				AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.notification_id = n.id)`,
		} {
			tag, err := tx.Exec(ctx, q, cut)
			if err != nil {
				return err
			}
			n += tag.RowsAffected()
		}
		return nil
	})
	if err != nil {
		return 0, wrap("prune outbox", err)
	}
	return n, nil
}

// ExpiringTokens returns the tokens not revoked that expire in (from, to]
// and lived longer than minLifetime, most of them (0: all), soonest first
// (ties by id), each with its client.
func (db *DB) ExpiringTokens(ctx context.Context, from time.Time, afterID string, to time.Time, minLifetime time.Duration, most int) ([]*latchkey.Token, error) {
	after := `t.expires_at > $1 AND $2 = ''`
	if afterID != "" {
		after = `(t.expires_at, t.id) > ($1, $2)`
	}
	rows, err := db.pool.Query(ctx, `SELECT `+sqlschema.TokenColumns+`, `+sqlschema.ClientColumns+sqlschema.TokenFrom+`
		WHERE NOT t.revoked AND `+after+` AND t.expires_at <= $3 AND t.expires_at - t.created_at > $4
		ORDER BY t.expires_at, t.id LIMIT $5`,
		storedTime(from), afterID, storedTime(to), minLifetime, limit(most))
	if err != nil {
		return nil, wrap("expiring tokens", err)
	}
	tokens, err := collect(rows, scanToken)
	if err != nil {
		return nil, wrap("expiring tokens", err)
	}
	return tokens, nil
}

// CreateWebhook stores w, a new id when it has none, and audit in the same
// transaction. ECONFLICT when its id exists.
func (db *DB) CreateWebhook(ctx context.Context, w *latchkey.Webhook, audit ...*latchkey.AuditRecord) error {
	if w.ID == "" {
		w.ID = latchkey.NewWebhookID()
	}
	events := make([]string, len(w.Events))
	for i, e := range w.Events {
		events[i] = string(e)
	}
	err := db.tx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx,
			`INSERT INTO webhooks (id, url, events, secret, created_at) VALUES ($1, $2, $3, $4, $5)`,
			w.ID, w.URL, events, blob(w.Secret), storedTime(w.CreatedAt))
		if pgCode(err) == codeUniqueViolation && constraint(err) == "webhooks_pkey" {
			return storeerr.Conflict(storeerr.MsgWebhookExists, err)
		}
		if err != nil {
			return err
		}
		return insertAudit(ctx, tx, audit)
	})
	if err != nil {
		return wrap("create webhook", err)
	}
	w.CreatedAt = storedTime(w.CreatedAt).UTC()
	return nil
}

// scanWebhook reads one row of sqlschema.WebhookColumns. No events is nil.
func scanWebhook(r pgx.Row) (*latchkey.Webhook, error) {
	var w latchkey.Webhook
	var events []string
	if err := r.Scan(&w.ID, &w.URL, &events, &w.Secret, &w.CreatedAt); err != nil {
		return nil, err
	}
	for _, e := range events {
		w.Events = append(w.Events, latchkey.NotificationType(e))
	}
	return &w, nil
}

// Webhooks returns the webhooks, oldest first (ties by id).
func (db *DB) Webhooks(ctx context.Context) ([]*latchkey.Webhook, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+sqlschema.WebhookColumns+` FROM webhooks w ORDER BY w.created_at, w.id`)
	if err != nil {
		return nil, wrap("webhooks", err)
	}
	ws, err := collect(rows, scanWebhook)
	if err != nil {
		return nil, wrap("webhooks", err)
	}
	return ws, nil
}

// DeleteWebhook deletes webhook id and its pending deliveries, and writes
// audit, in one READ COMMITTED transaction; its deliveries made or given
// up on stay, as its history. Deleting the webhook waits for a FanOut that
// holds it; the deletion of the deliveries, a statement of its own, then
// sees what that FanOut stored. ENOTFOUND when there is none.
func (db *DB) DeleteWebhook(ctx context.Context, id string, audit ...*latchkey.AuditRecord) error {
	if !storable(id) {
		return wrap("delete webhook", storeerr.NotFound(storeerr.MsgWebhookNotFound, nil))
	}
	err := db.tx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM webhooks WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return storeerr.NotFound(storeerr.MsgWebhookNotFound, nil)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM deliveries WHERE webhook_id = $1 AND state = 'pending'`, id); err != nil {
			return err
		}
		return insertAudit(ctx, tx, audit)
	})
	if err != nil {
		return wrap("delete webhook", err)
	}
	return nil
}

// MailOff returns the types of mail the user chose not to get, in the
// order of their names; none for an unknown user.
func (db *DB) MailOff(ctx context.Context, userID int64) ([]latchkey.NotificationType, error) {
	rows, err := db.pool.Query(ctx, `SELECT type FROM mail_off WHERE user_id = $1 ORDER BY type`, userID)
	if err != nil {
		return nil, wrap("mail off", err)
	}
	types, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, wrap("mail off", err)
	}
	off := make([]latchkey.NotificationType, len(types))
	for i, t := range types {
		off[i] = latchkey.NotificationType(t)
	}
	return off, nil
}

// SetMailOff replaces the types of mail the user chose not to get with
// off, in one transaction that locks the user's row (FOR NO KEY UPDATE),
// so that two calls at once take turns: the last one's set stays. ENOTFOUND for an unknown user.
func (db *DB) SetMailOff(ctx context.Context, userID int64, off []latchkey.NotificationType) error {
	types := make([]string, len(off))
	for i, t := range off {
		types[i] = string(t)
	}
	err := db.tx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE`, userID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return storeerr.NotFound(storeerr.MsgUserNotFound, err)
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM mail_off WHERE user_id = $1`, userID); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO mail_off (user_id, type)
			SELECT $1, t FROM unnest($2::text[]) AS t ON CONFLICT DO NOTHING`, userID, types)
		return err
	})
	if err != nil {
		return wrap("set mail off", err)
	}
	return nil
}
