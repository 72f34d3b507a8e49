package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqlschema"
)

// RecordAudit appends r and sets r.ID.
func (db *DB) RecordAudit(ctx context.Context, r *latchkey.AuditRecord) error {
	err := retry(ctx, func() error { return insertAudit(ctx, db.pool, []*latchkey.AuditRecord{r}) })
	if err != nil {
		return wrap("record audit", err)
	}
	return nil
}

// A rowQuerier is a pool or a transaction.
type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// insertAudit appends the records rs with q, the transaction of the change
// they record, and sets their IDs. Their times are stored, and set, to the
// microsecond. Many records (a revoked family, say) go in one round trip.
// For each record r that writes a notification (latchkey.NotificationOf),
// the statement that inserts r writes it to the outbox too.
func insertAudit(ctx context.Context, q rowQuerier, rs []*latchkey.AuditRecord) error {
	const insert = `INSERT INTO audit_log (` + auditColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		RETURNING id`
	// insertNotified is insert and the record's notification, which
	// takes the record's id: one statement, as atomic as one insert.
	const insertNotified = `WITH a AS (` + insert + `)
		INSERT INTO notifications (` + notificationColumns + `)
		SELECT $11, $12, $13, $14, $15, $16, $17, $18, $19, a.id, $20, $13 FROM a
		RETURNING audit_id`
	stmt := func(r *latchkey.AuditRecord) (string, []any) {
		args := auditArgs(r)
		// Its AuditID is the record's, which the statement fills in.
		n := latchkey.NotificationOf(r)
		if n == nil {
			return insert, args
		}
		return insertNotified, append(args, notificationArgs(n)...)
	}
	if len(rs) == 1 {
		r := rs[0]
		query, args := stmt(r)
		if err := q.QueryRow(ctx, query, args...).Scan(&r.ID); err != nil {
			return fmt.Errorf("audit record: %w", err)
		}
		r.At = storedTime(r.At)
		return nil
	}
	var b pgx.Batch
	for _, r := range rs {
		query, args := stmt(r)
		b.Queue(query, args...)
	}
	results := q.SendBatch(ctx, &b)
	for _, r := range rs {
		if err := results.QueryRow().Scan(&r.ID); err != nil {
			results.Close()
			return fmt.Errorf("audit record: %w", err)
		}
		r.At = storedTime(r.At)
	}
	if err := results.Close(); err != nil {
		return fmt.Errorf("audit record: %w", err)
	}
	return nil
}

// auditColumns are the columns of a new audit record, in the order of
// auditArgs.
const auditColumns = `at, action, actor, actor_user_id, actor_token_id,
	subject_user_id, subject_id, address, user_agent, detail`

// auditArgs are the values of auditColumns for r.
func auditArgs(r *latchkey.AuditRecord) []any {
	return []any{storedTime(r.At), string(r.Action), string(r.Actor), r.ActorUserID, r.ActorTokenID, r.SubjectUserID, r.SubjectID,
		r.Address, r.UserAgent, r.Detail}
}

// notificationColumns are the columns of an audit record's notification:
// the values of notificationArgs, then the record's id, then the detail,
// then created_at, which is the notification's at.
const notificationColumns = `msg_id, type, at, user_id, token_id, client_id,
	actor, actor_user_id, actor_token_id, audit_id, detail, created_at`

// notificationArgs are the values of notificationColumns for n but
// audit_id, which the statement takes from the record it inserts, and
// created_at: up to actor_token_id, then the detail.
func notificationArgs(n *latchkey.Notification) []any {
	return []any{latchkey.NewMsgID(), string(n.Type), storedTime(n.At), n.UserID, n.TokenID,
		nullInt(n.ClientID), string(n.Actor), n.ActorUserID, n.ActorTokenID, n.Detail}
}

// AuditRecords returns the records f selects, newest first.
func (db *DB) AuditRecords(ctx context.Context, f latchkey.AuditFilter) ([]*latchkey.AuditRecord, error) {
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	if f.Action != "" {
		where = append(where, `action = `+arg(string(f.Action)))
	}
	if f.UserID != nil {
		p := arg(*f.UserID)
		where = append(where, `(actor_user_id = `+p+` OR subject_user_id = `+p+`)`)
	}
	if !f.Since.IsZero() {
		where = append(where, `at >= `+arg(storedTime(f.Since)))
	}
	q := `SELECT ` + sqlschema.AuditColumns + ` FROM audit_log`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY at DESC, id DESC`
	if f.Limit > 0 {
		q += ` LIMIT ` + arg(f.Limit)
	}
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, wrap("audit records", err)
	}
	defer rows.Close()
	out := []*latchkey.AuditRecord{}
	for rows.Next() {
		r := &latchkey.AuditRecord{}
		var action, actor string
		if err := rows.Scan(&r.ID, &r.At, &action, &actor, &r.ActorUserID, &r.ActorTokenID,
			&r.SubjectUserID, &r.SubjectID, &r.Address, &r.UserAgent, &r.Detail); err != nil {
			return nil, wrap("audit records", err)
		}
		r.At = r.At.UTC()
		r.Action, r.Actor = latchkey.AuditAction(action), latchkey.AuditActor(actor)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("audit records", err)
	}
	return out, nil
}

// PruneAudit deletes the records older than before.
func (db *DB) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM audit_log WHERE at < $1`, storedTime(before))
	if err != nil {
		return 0, wrap("prune audit", err)
	}
	return tag.RowsAffected(), nil
}
