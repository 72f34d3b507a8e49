package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/storeerr"
)

// CreateSession stores s, and audit in the same transaction. ECONFLICT when
// its id exists; ENOTFOUND when its user does not exist.
func (db *DB) CreateSession(ctx context.Context, s *latchkey.Session, audit ...*latchkey.AuditRecord) error {
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO web_sessions (id, user_id, created_at, expires_at, address, user_agent)
			VALUES (?, ?, ?, ?, ?, ?)`,
			s.ID, s.UserID, formatTime(s.CreatedAt), formatTime(s.ExpiresAt), s.Address, s.UserAgent)
		switch {
		case isUnique(err):
			return storeerr.Conflict(storeerr.MsgSessionExists, err)
		case isForeignKey(err):
			return storeerr.NotFound(storeerr.MsgSessionUserNotFound, err)
		case err != nil:
			return err
		}
		return insertAudit(ctx, tx, audit)
	})
	if err != nil {
		return wrap("create session", err)
	}
	return nil
}

// Session returns the session with that id, expired or not. ENOTFOUND when
// there is none.
func (db *DB) Session(ctx context.Context, id string) (*latchkey.Session, error) {
	var s latchkey.Session
	err := db.queryRow(ctx,
		`SELECT id, user_id, created_at, expires_at, address, user_agent
		FROM web_sessions WHERE id = ?`, id,
	).Scan(&s.ID, &s.UserID, timeColumn{&s.CreatedAt}, timeColumn{&s.ExpiresAt}, &s.Address, &s.UserAgent)
	if errors.Is(err, sql.ErrNoRows) {
		err = storeerr.NotFound(storeerr.MsgSessionNotFound, err)
	}
	if err != nil {
		return nil, wrap("session", err)
	}
	return &s, nil
}

// DeleteSession deletes the session. None is not an error.
func (db *DB) DeleteSession(ctx context.Context, id string) error {
	if _, err := db.deleteSessions(ctx, `id = ?`, id); err != nil {
		return wrap("delete session", err)
	}
	return nil
}

// DeleteUserSessions deletes every session of the user.
func (db *DB) DeleteUserSessions(ctx context.Context, userID int64) error {
	if _, err := db.deleteSessions(ctx, `user_id = ?`, userID); err != nil {
		return wrap("delete user sessions", err)
	}
	return nil
}

// PruneSessions deletes the sessions that expired before before, and says
// how many.
func (db *DB) PruneSessions(ctx context.Context, before time.Time) (int64, error) {
	n, err := db.deleteSessions(ctx, `expires_at < ?`, formatTime(before))
	if err != nil {
		return 0, wrap("prune sessions", err)
	}
	return n, nil
}

// deleteSessions deletes the sessions that the condition where, with its
// args, selects, and says how many.
func (db *DB) deleteSessions(ctx context.Context, where string, args ...any) (int64, error) {
	var n int64
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM web_sessions WHERE `+where, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
