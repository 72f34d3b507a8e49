package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqlschema"
)

// RecordAudit appends r and sets r.ID.
func (db *DB) RecordAudit(ctx context.Context, r *latchkey.AuditRecord) error {
	err := db.writeTx(ctx, func(tx *sql.Tx) error { return insertAudit(ctx, tx, []*latchkey.AuditRecord{r}) })
	if err != nil {
		return wrap("record audit", err)
	}
	return nil
}

// insertAuditQuery is the query of insertAudit.
const insertAuditQuery = `INSERT INTO audit_log (at, action, actor, actor_user_id, actor_token_id,
	subject_user_id, subject_id, address, user_agent, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// insertAudit appends the records rs with e, the transaction of the change
// they record, and sets their IDs. Their times are stored, and set, to
// the microsecond. For each record r that writes a notification
// (latchkey.NotificationOf), it writes it to the outbox with r.
func insertAudit(ctx context.Context, e execer, rs []*latchkey.AuditRecord) error {
	const q = insertAuditQuery
	exec := func(args ...any) (sql.Result, error) { return e.ExecContext(ctx, q, args...) }
	// Many records (a revoked family, say) share one prepared statement.
	if p, ok := e.(interface {
		PrepareContext(context.Context, string) (*sql.Stmt, error)
	}); ok && len(rs) > 1 {
		stmt, err := p.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("audit record: %w", err)
		}
		defer stmt.Close()
		exec = func(args ...any) (sql.Result, error) { return stmt.ExecContext(ctx, args...) }
	}
	for _, r := range rs {
		res, err := exec(
			formatTime(r.At), string(r.Action), string(r.Actor), r.ActorUserID, r.ActorTokenID,
			r.SubjectUserID, r.SubjectID, r.Address, r.UserAgent, r.Detail)
		if err != nil {
			return fmt.Errorf("audit record: %w", err)
		}
		if r.ID, err = res.LastInsertId(); err != nil {
			return fmt.Errorf("audit record: %w", err)
		}
		r.At = r.At.UTC().Round(time.Microsecond)
		if n := latchkey.NotificationOf(r); n != nil {
			if _, err := insertNotification(ctx, e, n); err != nil {
				return fmt.Errorf("audit record %d: %w", r.ID, err)
			}
		}
	}
	return nil
}

// AuditRecords returns the records f selects, newest first.
func (db *DB) AuditRecords(ctx context.Context, f latchkey.AuditFilter) ([]*latchkey.AuditRecord, error) {
	var where []string
	var args []any
	if f.Action != "" {
		where, args = append(where, `action = ?`), append(args, string(f.Action))
	}
	if f.UserID != nil {
		where, args = append(where, `(actor_user_id = ? OR subject_user_id = ?)`), append(args, *f.UserID, *f.UserID)
	}
	if !f.Since.IsZero() {
		where, args = append(where, `at >= ?`), append(args, formatTime(f.Since))
	}
	q := `SELECT ` + sqlschema.AuditColumns + ` FROM audit_log`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY at DESC, id DESC LIMIT ?`
	args = append(args, limit(f.Limit))
	out, err := collect(scanAudit)(db.query(ctx, q, args...))
	if err != nil {
		return nil, wrap("audit records", err)
	}
	return out, nil
}

// scanAudit reads one audit record.
func scanAudit(row rowScanner) (*latchkey.AuditRecord, error) {
	r := &latchkey.AuditRecord{}
	var action, actor string
	err := row.Scan(&r.ID, timeColumn{&r.At}, &action, &actor, optionalIntColumn{&r.ActorUserID}, &r.ActorTokenID,
		optionalIntColumn{&r.SubjectUserID}, &r.SubjectID, &r.Address, &r.UserAgent, &r.Detail)
	r.Action, r.Actor = latchkey.AuditAction(action), latchkey.AuditActor(actor)
	return r, err
}

// PruneAudit deletes the records older than before.
func (db *DB) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM audit_log WHERE at < ?`, formatTime(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, wrap("prune audit", err)
	}
	return n, nil
}
