package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/storeerr"
)

// CreateSession stores s, and audit in the same transaction. ECONFLICT when
// its id exists; ENOTFOUND when its user does not exist.
func (db *DB) CreateSession(ctx context.Context, s *latchkey.Session, audit ...*latchkey.AuditRecord) error {
	err := db.tx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx,
			`INSERT INTO web_sessions (id, user_id, created_at, expires_at, address, user_agent)
			VALUES ($1, $2, $3, $4, $5, $6)`,
			s.ID, s.UserID, storedTime(s.CreatedAt), storedTime(s.ExpiresAt), s.Address, s.UserAgent)
		if err != nil {
			return err
		}
		return insertAudit(ctx, tx, audit)
	})
	switch pgCode(err) {
	case codeUniqueViolation:
		err = storeerr.Conflict(storeerr.MsgSessionExists, err)
	case codeForeignKeyViolation:
		err = storeerr.NotFound(storeerr.MsgSessionUserNotFound, err)
	}
	if err != nil {
		return wrap("create session", err)
	}
	return nil
}

// Session returns the session with that id, expired or not. ENOTFOUND when
// there is none.
func (db *DB) Session(ctx context.Context, id string) (*latchkey.Session, error) {
	if !storable(id) {
		return nil, wrap("session", storeerr.NotFound(storeerr.MsgSessionNotFound, nil))
	}
	var s latchkey.Session
	err := db.pool.QueryRow(ctx,
		`SELECT id, user_id, created_at, expires_at, address, user_agent
		FROM web_sessions WHERE id = $1`, id,
	).Scan(&s.ID, &s.UserID, &s.CreatedAt, &s.ExpiresAt, &s.Address, &s.UserAgent)
	if errors.Is(err, pgx.ErrNoRows) {
		err = storeerr.NotFound(storeerr.MsgSessionNotFound, err)
	}
	if err != nil {
		return nil, wrap("session", err)
	}
	return &s, nil
}

// DeleteSession deletes the session. None is not an error.
func (db *DB) DeleteSession(ctx context.Context, id string) error {
	if !storable(id) {
		return nil // no stored session has it
	}
	if _, err := db.deleteSessions(ctx, `id = $1`, id); err != nil {
		return wrap("delete session", err)
	}
	return nil
}

// DeleteUserSessions deletes every session of the user.
func (db *DB) DeleteUserSessions(ctx context.Context, userID int64) error {
	if _, err := db.deleteSessions(ctx, `user_id = $1`, userID); err != nil {
		return wrap("delete user sessions", err)
	}
	return nil
}

// PruneSessions deletes the sessions that expired before before, and says
// how many.
func (db *DB) PruneSessions(ctx context.Context, before time.Time) (int64, error) {
	n, err := db.deleteSessions(ctx, `expires_at < $1`, storedTime(before))
	if err != nil {
		return 0, wrap("prune sessions", err)
	}
	return n, nil
}

// deleteSessions deletes the sessions that the condition where, with its
// args, selects, and says how many.
func (db *DB) deleteSessions(ctx context.Context, where string, args ...any) (int64, error) {
	var n int64
	err := retry(ctx, func() error {
		tag, err := db.pool.Exec(ctx, `DELETE FROM web_sessions WHERE `+where, args...)
		n = tag.RowsAffected()
		return err
	})
	return n, err
}
