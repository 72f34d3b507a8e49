package postgres

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqlschema"
	"github.com/latchkey/latchkey/internal/storeerr"
)

// userConflict translates the unique violation of a user column.
func userConflict(err error) error {
	if pgCode(err) != codeUniqueViolation {
		return err
	}
	if constraint(err) == "users_email_live" {
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
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		RETURNING id`
	var id int64
	err := db.tx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, q,
			u.Username, u.Email, u.FirstName, u.LastName, string(u.Status),
			u.Admin, storedPermissions(u.Permissions), nullText(u.PasswordHash), u.SearchText(),
			storedTime(u.CreatedAt), storedTime(u.UpdatedAt), storedNullTime(u.DeletedAt),
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
	u, err := scanUser(db.pool.QueryRow(ctx,
		`SELECT `+sqlschema.UserColumns+` FROM users u WHERE u.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
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
	if !storable(login) {
		return nil, wrap("user by login", storeerr.NotFound(storeerr.MsgUserNotFound, nil))
	}
	const q = `SELECT ` + sqlschema.UserColumns + ` FROM users u
		WHERE u.username = $1 OR u.email = $1
		ORDER BY u.deleted_at IS NULL DESC, u.username = $1 DESC, u.deleted_at DESC, u.id DESC
		LIMIT 1`
	u, err := scanUser(db.pool.QueryRow(ctx, q, login))
	if errors.Is(err, pgx.ErrNoRows) {
		err = storeerr.NotFound(storeerr.MsgUserNotFound, err)
	}
	if err != nil {
		return nil, wrap("user by login", err)
	}
	return u, nil
}

// Users returns the users f selects, by id ascending. The search is a
// literal substring of the username, email, first or last name, compared
// after lowercasing both sides in Go.
func (db *DB) Users(ctx context.Context, f latchkey.UserFilter) ([]*latchkey.User, error) {
	if !storable(f.Search) {
		return []*latchkey.User{}, nil // no stored text contains it
	}
	var q strings.Builder
	args := []any{limit(f.Limit), max(f.Offset, 0)}
	q.WriteString(`SELECT ` + sqlschema.UserColumns + ` FROM users u WHERE true`)
	switch {
	case f.OnlyDeleted:
		q.WriteString(` AND u.deleted_at IS NOT NULL`)
	case !f.IncludeDeleted:
		q.WriteString(` AND u.deleted_at IS NULL`)
	}
	if f.Search != "" {
		q.WriteString(` AND strpos(u.search_folded, $3) > 0`)
		args = append(args, strings.ToLower(f.Search))
	}
	q.WriteString(` ORDER BY u.id LIMIT $1 OFFSET $2`)

	rows, err := db.pool.Query(ctx, q.String(), args...)
	if err != nil {
		return nil, wrap("users", err)
	}
	users, err := collect(rows, scanUser)
	if err != nil {
		return nil, wrap("users", err)
	}
	return users, nil
}

// limit returns the LIMIT of a page of n rows: NULL, no limit, for n <= 0.
func limit(n int) *int {
	if n <= 0 {
		return nil
	}
	return &n
}

// UpdateUser applies upd to the user that is not deleted, sets UpdatedAt
// to at and returns the user as stored, in one transaction that locks the
// user's row while it reads it, so that concurrent updates of other fields
// are not lost. ENOTFOUND when there is no such user; ECONFLICT when
// another user not deleted has the new username or email.
func (db *DB) UpdateUser(ctx context.Context, id int64, upd latchkey.UserUpdate, at time.Time, audit ...*latchkey.AuditRecord) (*latchkey.User, error) {
	const (
		sel = `SELECT ` + sqlschema.UserColumns + ` FROM users u
			WHERE u.id = $1 AND u.deleted_at IS NULL
			FOR NO KEY UPDATE`
		set = `UPDATE users u SET username = $1, email = $2, firstname = $3, lastname = $4,
			status = $5, is_administrator = $6, permissions = $7, password_hash = $8,
			search_folded = $9, updated_at = $10
			WHERE u.id = $11
			RETURNING ` + sqlschema.UserColumns
	)
	var u *latchkey.User
	err := db.tx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRow(ctx, sel, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return storeerr.NotFound(storeerr.MsgUserNotFound, err)
		}
		if err != nil {
			return err
		}
		upd.ApplyTo(u)
		u, err = scanUser(tx.QueryRow(ctx, set,
			u.Username, u.Email, u.FirstName, u.LastName, string(u.Status),
			u.Admin, storedPermissions(u.Permissions), nullText(u.PasswordHash),
			u.SearchText(), storedTime(at), id))
		if err != nil {
			return userConflict(err)
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
	err := db.tx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx,
			`UPDATE users SET deleted_at = $1, updated_at = $1 WHERE id = $2 AND deleted_at IS NULL`,
			storedTime(at), id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
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
// grants and marks their authorizations revoked, locking the user's row,
// then its tokens, then its grants. It returns the user as stored and the
// tokens it revoked, with their clients, by id. ENOTFOUND when there is no
// such deleted user; ECONFLICT, and nothing changes, when a user not
// deleted has its username or email: the partial unique indexes decide,
// so two restores, or a restore and a create, cannot both take one.
//
// It writes audit with the change: token revocations once per token
// revoked, the others as given.
//
// Each statement reads what committed before it (READ COMMITTED, as
// RevokeConsent), so that a token stored while the user's row was locked
// is revoked too.
func (db *DB) RestoreUser(ctx context.Context, id int64, at time.Time, audit ...*latchkey.AuditRecord) (*latchkey.User, []*latchkey.Token, error) {
	var (
		u      *latchkey.User
		tokens []*latchkey.Token
	)
	err := db.tx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRow(ctx,
			`UPDATE users u SET deleted_at = NULL, updated_at = $1
			WHERE u.id = $2 AND u.deleted_at IS NOT NULL
			RETURNING `+sqlschema.UserColumns,
			storedTime(at), id))
		if errors.Is(err, pgx.ErrNoRows) {
			return storeerr.NotFound(storeerr.MsgDeletedUserNotFound, err)
		}
		if err != nil {
			return userConflict(err)
		}
		// Nothing issued before the deletion comes back: an
		// authorization still being issued is refused, as after
		// RevokeConsent.
		if err := markRevoked(ctx, tx, at, `user_id = $2`, id); err != nil {
			return err
		}
		if tokens, err = revokeTokens(ctx, tx, at, latchkey.ReasonUserRestored, `t.user_id = $3`, id); err != nil {
			return err
		}
		if err := deactivateGrants(ctx, tx, `user_id = $1`, id); err != nil {
			return err
		}
		return insertAudit(ctx, tx, latchkey.AuditWithTokens(audit, tokens))
	})
	if err != nil {
		return nil, nil, wrap("restore user", err)
	}
	return u, tokens, nil
}
