package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqlschema"
	"github.com/latchkey/latchkey/internal/storeerr"
)

// insertNotificationQuery is the query of insertNotification: a
// notification whose dedupe key is in the outbox already is not stored.
const insertNotificationQuery = `INSERT INTO notifications (msg_id, type, at, user_id, token_id, client_id,
	actor, actor_user_id, actor_token_id, audit_id, detail, dedupe, created_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (dedupe) DO NOTHING`

// insertNotification stores n with e, and sets n.ID, n.MsgID (a new one,
// unless n has one) and n.At as stored, unless n.Dedupe is in the outbox
// already: then it stores nothing, leaves n as it was, and returns false.
// The notification is created at n.At.
func insertNotification(ctx context.Context, e execer, n *latchkey.Notification) (bool, error) {
	msgID := n.MsgID
	if msgID == "" {
		msgID = latchkey.NewMsgID()
	}
	at := formatTime(n.At)
	res, err := e.ExecContext(ctx, insertNotificationQuery,
		msgID, string(n.Type), at, n.UserID, n.TokenID, nullInt(n.ClientID),
		string(n.Actor), n.ActorUserID, n.ActorTokenID, nullInt(n.AuditID), n.Detail, nullText(n.Dedupe), at)
	if err != nil {
		return false, fmt.Errorf("notification: %w", err)
	}
	if rows, err := res.RowsAffected(); err != nil || rows == 0 {
		return false, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return false, fmt.Errorf("notification: %w", err)
	}
	n.ID, n.MsgID, n.At = id, msgID, n.At.UTC().Round(time.Microsecond)
	return true, nil
}

// nullInt returns n, or NULL for 0.
func nullInt(n int64) any {
	if n == 0 {
		return nil
	}
	return n
}

// AddNotification stores n and sets n.ID and n.MsgID, unless n.Dedupe is
// in the outbox already: then it stores nothing and returns false.
// ENOTFOUND when its user does not exist.
func (db *DB) AddNotification(ctx context.Context, n *latchkey.Notification) (bool, error) {
	var added bool
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		var err error
		added, err = insertNotification(ctx, tx, n)
		return err
	})
	if err != nil {
		return false, wrap("add notification", err)
	}
	return added, nil
}

// scanNotificationInfo reads one row of sqlschema.NotificationInfoColumns.
func scanNotificationInfo(r rowScanner) (*latchkey.NotificationInfo, error) {
	n := &latchkey.Notification{}
	info := &latchkey.NotificationInfo{Notification: n}
	var typ, actor string
	var clientID, auditID *int64
	err := r.Scan(&n.ID, &n.MsgID, &typ, timeColumn{&n.At}, &n.UserID, &n.TokenID, optionalIntColumn{&clientID},
		&actor, optionalIntColumn{&n.ActorUserID}, &n.ActorTokenID, optionalIntColumn{&auditID}, &n.Detail,
		nullTextColumn{&n.Dedupe}, &info.Username, &info.Email, &info.UserDisabled, &info.ActorUsername)
	if err != nil {
		return nil, err
	}
	n.Type, n.Actor = latchkey.NotificationType(typ), latchkey.AuditActor(actor)
	if clientID != nil {
		n.ClientID = *clientID
	}
	if auditID != nil {
		n.AuditID = *auditID
	}
	return info, nil
}

// NewNotifications returns up to most notifications not yet fanned out
// (0: all), oldest first, each with its owner, the mail the owner
// turned off, its token with the token's client, its client, and the
// username of who acted; all read from one snapshot.
func (db *DB) NewNotifications(ctx context.Context, most int) ([]*latchkey.NotificationInfo, error) {
	var infos []*latchkey.NotificationInfo
	err := db.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		infos, err = collect(scanNotificationInfo)(tx.QueryContext(ctx,
			`SELECT `+sqlschema.NotificationInfoColumns+sqlschema.NotificationInfoFrom+`
			WHERE n.fanned = 0 ORDER BY n.id LIMIT ?`, limit(most)))
		if err != nil || len(infos) == 0 {
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
func fillNotificationInfos(ctx context.Context, tx *sql.Tx, infos []*latchkey.NotificationInfo) error {
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
		list, err := collect(scanToken)(tx.QueryContext(ctx,
			`SELECT `+sqlschema.TokenColumns+`, `+sqlschema.ClientColumns+sqlschema.TokenFrom+`
			WHERE t.id IN (SELECT value FROM json_each(?))`, jsonList(tokenIDs)))
		if err != nil {
			return err
		}
		for _, t := range list {
			tokens[t.ID] = t
		}
	}
	clients := map[int64]*latchkey.Client{}
	if len(clientIDs) > 0 {
		list, err := collect(scanClient)(tx.QueryContext(ctx,
			`SELECT `+sqlschema.ClientColumns+` FROM oauth_clients c
			WHERE c.id IN (SELECT value FROM json_each(?))`, jsonList(clientIDs)))
		if err != nil {
			return err
		}
		for _, c := range list {
			clients[c.ID] = c
		}
	}
	rows, err := tx.QueryContext(ctx, `SELECT user_id, type FROM mail_off
		WHERE user_id IN (SELECT value FROM json_each(?)) ORDER BY user_id, type`, jsonList(userIDs))
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

// jsonList returns the JSON array of vs, for json_each.
func jsonList[T string | int64](vs []T) string {
	b, _ := json.Marshal(vs) // strings and integers always encode
	return string(b)
}

// FanOut marks notification id fanned out with body, and stores ds, its
// deliveries, pending, due at their NextAt (their CreatedAt when it is
// zero), in one transaction, and sets their IDs. When the notification
// was fanned out already (or does not exist), it stores nothing and
// returns false. ENOTFOUND when a delivery's webhook does not exist.
func (db *DB) FanOut(ctx context.Context, id int64, body []byte, ds []*latchkey.Delivery) (bool, error) {
	var fanned bool
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE notifications SET fanned = 1, body = ? WHERE id = ? AND fanned = 0`, blob(body), id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		if err := webhooksExist(ctx, tx, ds); err != nil {
			return err
		}
		for _, d := range ds {
			res, err := tx.ExecContext(ctx,
				`INSERT INTO deliveries (notification_id, webhook_id, recipient, state, attempts, created_at, next_at)
				VALUES (?, ?, ?, 'pending', 0, ?, ?)`,
				id, nullText(d.WebhookID), d.Recipient, formatTime(d.CreatedAt), formatTime(dueAt(d)))
			if err != nil {
				return err
			}
			if d.ID, err = res.LastInsertId(); err != nil {
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
			d.CreatedAt, d.NextAt = d.CreatedAt.UTC().Round(time.Microsecond), next.UTC().Round(time.Microsecond)
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

// webhooksExist returns ENOTFOUND unless the webhook of each delivery of
// ds, other than mail, exists.
func webhooksExist(ctx context.Context, tx *sql.Tx, ds []*latchkey.Delivery) error {
	var ids []string
	for _, d := range ds {
		if d.WebhookID != "" && !slices.Contains(ids, d.WebhookID) {
			ids = append(ids, d.WebhookID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	var n int
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM webhooks WHERE id IN (SELECT value FROM json_each(?))`,
		jsonList(ids)).Scan(&n)
	if err == nil && n != len(ids) {
		err = storeerr.NotFound(storeerr.MsgWebhookNotFound, nil)
	}
	return err
}

// deliveryFields returns the scan destinations of sqlschema.DeliveryColumns
// in d.
func deliveryFields(d *latchkey.Delivery) []any {
	return []any{&d.ID, &d.NotificationID, nullTextColumn{&d.WebhookID}, &d.Recipient, (*string)(&d.State), &d.Attempts,
		timeColumn{&d.CreatedAt}, timeColumn{&d.NextAt}, nullTimeColumn{&d.DeliveredAt}, &d.LastError, &d.LastStatus,
		&d.MsgID, (*string)(&d.Type)}
}

// scanDelivery reads one row of sqlschema.DeliveryColumns.
func scanDelivery(r rowScanner) (*latchkey.Delivery, error) {
	var d latchkey.Delivery
	return &d, r.Scan(deliveryFields(&d)...)
}

// scanClaimed reads one row of sqlschema.ClaimedColumns: a webhook's
// delivery goes to the webhook's URL.
func scanClaimed(r rowScanner) (*latchkey.Delivery, error) {
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
// tried first, then the soonest due, and returns them with what to send. The write transaction
// that claims them is the lease: SQLite runs one at a time, so no two
// servers claim a delivery at once.
func (db *DB) ClaimDeliveries(ctx context.Context, server string, now, until time.Time, most int) ([]*latchkey.Delivery, error) {
	var ds []*latchkey.Delivery
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		nowText := formatTime(now)
		ids, err := collect(scanInt64)(tx.QueryContext(ctx,
			`UPDATE deliveries SET claimed_by = ?, claimed_until = ?
			WHERE id IN (SELECT id FROM deliveries
				WHERE state = 'pending' AND next_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?)
				ORDER BY attempts = 0 DESC, next_at, id LIMIT ?)
			RETURNING id`,
			server, formatTime(until), nowText, nowText, limit(most)))
		if err != nil || len(ids) == 0 {
			ds = []*latchkey.Delivery{}
			return err
		}
		ds, err = collect(scanClaimed)(tx.QueryContext(ctx,
			`SELECT `+sqlschema.ClaimedColumns+sqlschema.ClaimedFrom+`
			WHERE d.id IN (SELECT value FROM json_each(?)) ORDER BY d.attempts = 0 DESC, d.next_at, d.id`, jsonList(ids)))
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
	var recorded bool
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE deliveries SET attempts = attempts + 1, last_error = ?, last_status = ?,
				state = ?, delivered_at = ?, next_at = coalesce(?, next_at),
				claimed_by = NULL, claimed_until = NULL
			WHERE id = ? AND claimed_by = ? AND state = 'pending'`,
			a.Err, a.Status, string(state), formatNullTime(delivered), formatNullTime(next),
			a.DeliveryID, a.Server)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		recorded = n == 1
		return err
	})
	if err != nil {
		return false, wrap("record attempt", err)
	}
	return recorded, nil
}

// Deliveries returns the newest deliveries, most of them (0: all), of the
// webhook id if it is not "" ("mail" for mail), each with its
// notification's MsgID and Type.
func (db *DB) Deliveries(ctx context.Context, webhookID string, most int) ([]*latchkey.Delivery, error) {
	where, args := ``, []any{}
	switch webhookID {
	case "":
	case "mail":
		where = ` WHERE d.webhook_id IS NULL`
	default:
		where, args = ` WHERE d.webhook_id = ?`, append(args, webhookID)
	}
	ds, err := collect(scanDelivery)(db.query(ctx,
		`SELECT `+sqlschema.DeliveryColumns+sqlschema.DeliveryFrom+where+`
		ORDER BY d.created_at DESC, d.id DESC LIMIT ?`, append(args, limit(most))...))
	if err != nil {
		return nil, wrap("deliveries", err)
	}
	return ds, nil
}

// OutboxStats says how the outbox stands.
func (db *DB) OutboxStats(ctx context.Context) (latchkey.OutboxStats, error) {
	var st latchkey.OutboxStats
	var oldestNew, oldestPending *time.Time
	err := db.queryRow(ctx, `SELECT
			(SELECT count(*) FROM notifications WHERE fanned = 0),
			(SELECT count(*) FROM deliveries WHERE state = 'pending'),
			(SELECT count(*) FROM deliveries WHERE state = 'failed'),
			(SELECT min(created_at) FROM notifications WHERE fanned = 0),
			(SELECT min(created_at) FROM deliveries WHERE state = 'pending')`,
	).Scan(&st.New, &st.Pending, &st.Failed, nullTimeColumn{&oldestNew}, nullTimeColumn{&oldestPending})
	if err != nil {
		return st, wrap("outbox stats", err)
	}
	st.Oldest = earliest(oldestNew, oldestPending)
	return st, nil
}

// earliest returns the earlier of a and b, either of which may be nil.
func earliest(a, b *time.Time) *time.Time {
	if a == nil || b != nil && b.Before(*a) {
		return b
	}
	return a
}

// PruneOutbox deletes the deliveries delivered or failed that were created
// before before, then the notifications fanned out and created before
// before that have no delivery left, in one write transaction, and says
// how many rows it deleted in all. The deliveries are found by
// deliveries_created, the notifications by notifications_fanned_created,
// and what deliveries a notification has (the NOT EXISTS, and the check
// of the foreign key) by deliveries_notification: the work grows with the
// rows older than before, not with the outbox.
func (db *DB) PruneOutbox(ctx context.Context, before time.Time) (int64, error) {
	cut := formatTime(before)
	var n int64
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		n = 0
		for _, q := range []string{
			`DELETE FROM deliveries WHERE created_at < ? AND state IN ('delivered', 'failed')`,
			// fanned = 1, as written, lets the partial index serve.
			`DELETE FROM notifications WHERE fanned = 1 AND created_at < ?
				AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.notification_id = notifications.id)`,
		} {
			res, err := tx.ExecContext(ctx, q, cut)
			if err != nil {
				return err
			}
			rows, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += rows
		}
		return nil
	})
	if err != nil {
		return 0, wrap("prune outbox", err)
	}
	return n, nil
}

// lifetimeMicros is the lifetime of the token t (expires_at - created_at)
// in microseconds, exactly: SQLite's date functions keep milliseconds.
const lifetimeMicros = `((unixepoch(substr(t.expires_at, 1, 19)) - unixepoch(substr(t.created_at, 1, 19))) * 1000000
	+ (CAST(substr(t.expires_at, 21, 6) AS INTEGER) - CAST(substr(t.created_at, 21, 6) AS INTEGER)))`

// ExpiringTokens returns the tokens not revoked that expire in (from, to]
// and lived longer than minLifetime, most of them (0: all), soonest
// first (ties by id), each with its client.
func (db *DB) ExpiringTokens(ctx context.Context, from time.Time, afterID string, to time.Time, minLifetime time.Duration, most int) ([]*latchkey.Token, error) {
	after, args := `t.expires_at > ?`, []any{formatTime(from)}
	if afterID != "" {
		after, args = `(t.expires_at, t.id) > (?, ?)`, append(args, afterID)
	}
	tokens, err := collect(scanToken)(db.query(ctx,
		`SELECT `+sqlschema.TokenColumns+`, `+sqlschema.ClientColumns+sqlschema.TokenFrom+`
		WHERE t.revoked = 0 AND `+after+` AND t.expires_at <= ? AND `+lifetimeMicros+` > ?
		ORDER BY t.expires_at, t.id LIMIT ?`,
		append(args, formatTime(to), minLifetime.Microseconds(), limit(most))...))
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
	events, err := json.Marshal(storedEvents(w.Events))
	if err != nil {
		return wrap("create webhook", err)
	}
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO webhooks (id, url, events, secret, created_at) VALUES (?, ?, ?, ?, ?)`,
			w.ID, w.URL, string(events), blob(w.Secret), formatTime(w.CreatedAt))
		if isUnique(err) {
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
	w.CreatedAt = w.CreatedAt.UTC().Round(time.Microsecond)
	return nil
}

// storedEvents returns events as stored: never nil.
func storedEvents(events []latchkey.NotificationType) []latchkey.NotificationType {
	if events == nil {
		return []latchkey.NotificationType{}
	}
	return events
}

// scanWebhook reads one row of sqlschema.WebhookColumns. No events is nil.
func scanWebhook(r rowScanner) (*latchkey.Webhook, error) {
	var w latchkey.Webhook
	var events string
	if err := r.Scan(&w.ID, &w.URL, &events, &w.Secret, timeColumn{&w.CreatedAt}); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(events), &w.Events); err != nil {
		return nil, fmt.Errorf("webhook %s: events: %w", w.ID, err)
	}
	if len(w.Events) == 0 {
		w.Events = nil
	}
	return &w, nil
}

// Webhooks returns the webhooks, oldest first (ties by id).
func (db *DB) Webhooks(ctx context.Context) ([]*latchkey.Webhook, error) {
	ws, err := collect(scanWebhook)(db.query(ctx,
		`SELECT `+sqlschema.WebhookColumns+` FROM webhooks w ORDER BY w.created_at, w.id`))
	if err != nil {
		return nil, wrap("webhooks", err)
	}
	return ws, nil
}

// DeleteWebhook deletes webhook id and its pending deliveries, and writes
// audit, in one transaction; its deliveries made or given up on stay, as
// its history. ENOTFOUND when there is none.
func (db *DB) DeleteWebhook(ctx context.Context, id string, audit ...*latchkey.AuditRecord) error {
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM webhooks WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return storeerr.NotFound(storeerr.MsgWebhookNotFound, nil)
		}
		if _, err := tx.ExecContext(ctx,
			`DELETE FROM deliveries WHERE webhook_id = ? AND state = 'pending'`, id); err != nil {
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
	types, err := collect(scanText)(db.query(ctx,
		`SELECT type FROM mail_off WHERE user_id = ? ORDER BY type`, userID))
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
// off. ENOTFOUND for an unknown user.
func (db *DB) SetMailOff(ctx context.Context, userID int64, off []latchkey.NotificationType) error {
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = ?`, userID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return storeerr.NotFound(storeerr.MsgUserNotFound, err)
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM mail_off WHERE user_id = ?`, userID); err != nil {
			return err
		}
		for _, t := range off {
			_, err := tx.ExecContext(ctx,
				`INSERT INTO mail_off (user_id, type) VALUES (?, ?) ON CONFLICT DO NOTHING`, userID, string(t))
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return wrap("set mail off", err)
	}
	return nil
}
