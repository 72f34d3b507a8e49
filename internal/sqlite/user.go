package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqlschema"
	"github.com/latchkey/latchkey/internal/storeerr"
)

// userConflict translates the unique violation of a user column.
func userConflict(err error) error {
	if !isUnique(err) {
		return err
	}
	if strings.Contains(err.Error(), "users.email") {
		return storeerr.Conflict(storeerr.MsgEmailTaken, err)
	}
	return storeerr.Conflict(storeerr.MsgUsernameTaken, err)
}

// CreateUser stores u and sets u.ID. ECONFLICT when u is not deleted and
// a user not deleted has its username or email.
func (db *DB) CreateUser(ctx context.Context, u *latchkey.User, audit ...*latchkey.AuditRecord) error {
	const q = `INSERT INTO users (username, email, firstname, lastname, status,
		is_administrator, permissions, password_hash, search_folded,
		created_at, updated_at, deleted_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING id`
	var id int64
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, q,
			u.Username, u.Email, u.FirstName, u.LastName, string(u.Status),
			u.Admin, formatPermissions(u.Permissions), nullText(u.PasswordHash), u.SearchText(),
			formatTime(u.CreatedAt), formatTime(u.UpdatedAt), formatNullTime(u.DeletedAt),
		).Scan(&id)
		if err != nil {
			return userConflict(err)
		}
		latchkey.AuditAboutUser(audit, id)
		return insertAudit(ctx, tx, audit)
	})
	if err != nil {
		return wrap("create user", err)
	}
	u.ID = id
	return nil
}

// User returns the user with that id, deleted or not. ENOTFOUND when there
// is none.
func (db *DB) User(ctx context.Context, id int64) (*latchkey.User, error) {
	u, err := scanUser(db.queryRow(ctx,
		`SELECT `+sqlschema.UserColumns+` FROM users u WHERE u.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		err = storeerr.NotFound(storeerr.MsgUserNotFound, err)
	}
	if err != nil {
		return nil, wrap("user", err)
	}
	return u, nil
}

// UserByLogin returns the user whose username or email is login exactly:
// the one not deleted if there is one, its username before another's
// email, else the one deleted last. ENOTFOUND when there is none.
func (db *DB) UserByLogin(ctx context.Context, login string) (*latchkey.User, error) {
	const q = `SELECT ` + sqlschema.UserColumns + ` FROM users u
		WHERE u.username = ? OR u.email = ?
		ORDER BY u.deleted_at IS NULL DESC, u.username = ? DESC, u.deleted_at DESC, u.id DESC
		LIMIT 1`
	u, err := scanUser(db.queryRow(ctx, q, login, login, login))
	if errors.Is(err, sql.ErrNoRows) {
		err = storeerr.NotFound(storeerr.MsgUserNotFound, err)
	}
	if err != nil {
		return nil, wrap("user by login", err)
	}
	return u, nil
}

// Users returns the users f selects, by id ascending. The search is a
// literal substring of the username, email, first or last name, compared
// after lowercasing both sides.
func (db *DB) Users(ctx context.Context, f latchkey.UserFilter) ([]*latchkey.User, error) {
	var q strings.Builder
	var args []any
	q.WriteString(`SELECT ` + sqlschema.UserColumns + ` FROM users u WHERE 1 = 1`)
	switch {
	case f.OnlyDeleted:
		q.WriteString(` AND u.deleted_at IS NOT NULL`)
	case !f.IncludeDeleted:
		q.WriteString(` AND u.deleted_at IS NULL`)
	}
	if f.Search != "" {
		q.WriteString(` AND instr(u.search_folded, ?) > 0`)
		args = append(args, strings.ToLower(f.Search))
	}
	q.WriteString(` ORDER BY u.id LIMIT ? OFFSET ?`)
	args = append(args, limit(f.Limit), max(f.Offset, 0))

	users, err := collect(scanUser)(db.query(ctx, q.String(), args...))
	if err != nil {
		return nil, wrap("users", err)
	}
	return users, nil
}

// limit returns the LIMIT of a page of n rows; n <= 0 means no limit.
func limit(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

// UpdateUser applies upd to the user that is not deleted, sets UpdatedAt
// to at and returns the user as stored. ENOTFOUND when there is no such
// user; ECONFLICT when another user not deleted has the new username or
// email.
func (db *DB) UpdateUser(ctx context.Context, id int64, upd latchkey.UserUpdate, at time.Time, audit ...*latchkey.AuditRecord) (*latchkey.User, error) {
	const (
		sel = `SELECT ` + sqlschema.UserColumns + ` FROM users u WHERE u.id = ?`
		set = `UPDATE users SET username = ?, email = ?, firstname = ?, lastname = ?,
			status = ?, is_administrator = ?, permissions = ?, password_hash = ?,
			search_folded = ?, updated_at = ?
			WHERE id = ?`
	)
	var u *latchkey.User
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRowContext(ctx, sel+` AND u.deleted_at IS NULL`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return storeerr.NotFound(storeerr.MsgUserNotFound, err)
		}
		if err != nil {
			return err
		}
		upd.ApplyTo(u)
		_, err = tx.ExecContext(ctx, set,
			u.Username, u.Email, u.FirstName, u.LastName, string(u.Status),
			u.Admin, formatPermissions(u.Permissions), nullText(u.PasswordHash),
			u.SearchText(), formatTime(at), id)
		if err != nil {
			return userConflict(err)
		}
		if u, err = scanUser(tx.QueryRowContext(ctx, sel, id)); err != nil {
			return err
		}
		return insertAudit(ctx, tx, audit)
	})
	if err != nil {
		return nil, wrap("update user", err)
	}
	return u, nil
}

// DeleteUser marks the user deleted at at, and sets its UpdatedAt to at,
// and writes audit in the same transaction. ENOTFOUND when there is no such
// user or it is already deleted.
func (db *DB) DeleteUser(ctx context.Context, id int64, at time.Time, audit ...*latchkey.AuditRecord) error {
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE users SET deleted_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL`,
			formatTime(at), formatTime(at), id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return storeerr.NotFound(storeerr.MsgUserNotFound, nil)
		}
		return insertAudit(ctx, tx, audit)
	})
	if err != nil {
		return wrap("delete user", err)
	}
	return nil
}

// RestoreUser undoes the deletion of the deleted user and, in the same
// transaction, revokes at at every token the user holds, deactivates its
// grants and marks their authorizations revoked. It returns the user as
// stored and the tokens it revoked, with their clients, by id. ENOTFOUND
// when there is no such deleted user; ECONFLICT, and nothing changes, when
// a user not deleted has its username or email. It writes audit with the
// change: token revocations once per token revoked, the others as given.
func (db *DB) RestoreUser(ctx context.Context, id int64, at time.Time, audit ...*latchkey.AuditRecord) (*latchkey.User, []*latchkey.Token, error) {
	var (
		u      *latchkey.User
		tokens []*latchkey.Token
	)
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE users SET deleted_at = NULL, updated_at = ? WHERE id = ? AND deleted_at IS NOT NULL`,
			formatTime(at), id)
		if err != nil {
			return userConflict(err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return storeerr.NotFound(storeerr.MsgDeletedUserNotFound, nil)
		}
		// Nothing issued before the deletion comes back: an
		// authorization still being issued is refused, as after
		// RevokeConsent.
		if err := endGrants(ctx, tx, at, `user_id = ?`, id); err != nil {
			return err
		}
		if tokens, err = revokeTokens(ctx, tx, at, latchkey.ReasonUserRestored, `t.user_id = ?`, id); err != nil {
			return err
		}
		u, err = scanUser(tx.QueryRowContext(ctx,
			`SELECT `+sqlschema.UserColumns+` FROM users u WHERE u.id = ?`, id))
		if err != nil {
			return err
		}
		return insertAudit(ctx, tx, latchkey.AuditWithTokens(audit, tokens))
	})
	if err != nil {
		return nil, nil, wrap("restore user", err)
	}
	return u, tokens, nil
}
