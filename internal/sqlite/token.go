package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
)

// The caller-safe sentences of token errors.
const (
	msgTokenNotFound      = "The token was not found."
	msgTokenExists        = "A token with this id already exists."
	msgTokenOwnerNotFound = "The token's user or client was not found."
)

// tokenFrom is the FROM clause of every token read: a token with its
// client.
const tokenFrom = ` FROM oauth_access_tokens t
	JOIN oauth_clients c ON c.id = t.client_id`

// CreateToken stores t. ECONFLICT when the id exists; ENOTFOUND when its
// user or client does not exist.
func (db *DB) CreateToken(ctx context.Context, t *latchkey.Token) error {
	const q = `INSERT INTO oauth_access_tokens (id, user_id, client_id, name, name_folded,
		scopes, revoked, created_at, updated_at, expires_at, last_used_at, key_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	scopes, err := formatScopes(t.Scopes)
	if err != nil {
		return wrap("create token", err)
	}
	_, err = db.write.ExecContext(ctx, q,
		t.ID, t.UserID, t.ClientID, t.Name, strings.ToLower(t.Name),
		scopes, t.Revoked, formatTime(t.CreatedAt), formatTime(t.UpdatedAt),
		formatNullTime(t.ExpiresAt), formatNullTime(t.LastUsedAt), t.KeyID)
	switch {
	case isUnique(err):
		err = conflict(msgTokenExists, err)
	case isForeignKey(err):
		err = notFound(msgTokenOwnerNotFound, err)
	}
	if err != nil {
		return wrap("create token", err)
	}
	return nil
}

// Token returns the token with its client. ENOTFOUND when there is none.
func (db *DB) Token(ctx context.Context, id string) (*latchkey.Token, error) {
	t, err := scanToken(db.queryRow(ctx,
		`SELECT `+tokenColumns+`, `+clientColumns+tokenFrom+` WHERE t.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		err = notFound(msgTokenNotFound, err)
	}
	if err != nil {
		return nil, wrap("token", err)
	}
	return t, nil
}

// orderKey returns the sort key of the order o, false for an unknown order.
func orderKey(o latchkey.TokenOrder) (string, bool) {
	switch o {
	case "", latchkey.OrderCreatedAt:
		return "t.created_at", true
	case latchkey.OrderName:
		return "t.name_folded", true
	case latchkey.OrderExpiresAt:
		return "t.expires_at", true
	case latchkey.OrderLastUsedAt:
		return "t.last_used_at", true
	}
	return "", false
}

// Tokens returns the page of tokens f selects, each with its client, and
// how many tokens f selects on all pages, both read from one snapshot. The
// name filter is a literal substring of the name, compared after
// lowercasing both sides. EINVALID for an unknown f.OrderBy.
func (db *DB) Tokens(ctx context.Context, f latchkey.TokenFilter) ([]*latchkey.Token, int, error) {
	key, ok := orderKey(f.OrderBy)
	if !ok {
		return nil, 0, wrap("tokens", latchkey.Errorf(latchkey.EINVALID, "Tokens cannot be ordered by %q.", f.OrderBy))
	}
	dir := " DESC"
	if f.Ascending {
		dir = " ASC"
	}

	var where strings.Builder
	args := []any{f.UserID}
	where.WriteString(` WHERE t.user_id = ?`)
	if f.PersonalOnly {
		where.WriteString(` AND c.personal_access_client = 1`)
	}
	if !f.IncludeRevoked {
		where.WriteString(` AND t.revoked = 0`)
	}
	if f.Name != "" {
		where.WriteString(` AND instr(t.name_folded, ?) > 0`)
		args = append(args, strings.ToLower(f.Name))
	}

	page := `SELECT ` + tokenColumns + `, ` + clientColumns + tokenFrom + where.String() +
		` ORDER BY ` + key + dir + ` NULLS LAST, t.id DESC LIMIT ? OFFSET ?`
	pageArgs := append(slices.Clip(args), limit(f.Limit), max(f.Offset, 0))

	tokens := []*latchkey.Token{}
	var total int
	err := db.readTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT count(*)`+tokenFrom+where.String(), args...).Scan(&total)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, page, pageArgs...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			t, err := scanToken(rows)
			if err != nil {
				return err
			}
			tokens = append(tokens, t)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, 0, wrap("tokens", err)
	}
	return tokens, total, nil
}

// RevokeToken marks the token revoked and its UpdatedAt at, unless it is
// revoked already, and returns it as stored. ENOTFOUND when there is none.
func (db *DB) RevokeToken(ctx context.Context, id string, at time.Time) (*latchkey.Token, error) {
	var t *latchkey.Token
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`UPDATE oauth_access_tokens SET revoked = 1, updated_at = ? WHERE id = ? AND revoked = 0`,
			formatTime(at), id)
		if err != nil {
			return err
		}
		t, err = scanToken(tx.QueryRowContext(ctx,
			`SELECT `+tokenColumns+`, `+clientColumns+tokenFrom+` WHERE t.id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound(msgTokenNotFound, err)
		}
		return err
	})
	if err != nil {
		return nil, wrap("revoke token", err)
	}
	return t, nil
}

// Credential returns the token with its user and client, in one query.
// ENOTFOUND when there is no such token.
func (db *DB) Credential(ctx context.Context, id string) (*latchkey.Credential, error) {
	const q = `SELECT ` + tokenColumns + `, ` + userColumns + `, ` + clientColumns + `
		FROM oauth_access_tokens t
		JOIN users u ON u.id = t.user_id
		JOIN oauth_clients c ON c.id = t.client_id
		WHERE t.id = ?`
	var (
		t latchkey.Token
		u latchkey.User
		c latchkey.Client
	)
	dest := append(append(tokenFields(&t), userFields(&u)...), clientFields(&c)...)
	err := db.queryRow(ctx, q, id).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		err = notFound(msgTokenNotFound, err)
	}
	if err != nil {
		return nil, wrap("credential", err)
	}
	t.Client = &c
	return &latchkey.Credential{Token: &t, User: &u, Client: &c}, nil
}

// TouchTokens records when tokens were last used, in one transaction: for
// each id, it sets LastUsedAt to the time given unless that is not later.
// Unknown ids are ignored.
func (db *DB) TouchTokens(ctx context.Context, uses map[string]time.Time) error {
	if len(uses) == 0 {
		return nil
	}
	const q = `UPDATE oauth_access_tokens SET last_used_at = ?
		WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, q)
		if err != nil {
			return err
		}
		defer stmt.Close()
		// In id order, so that the same uses always write the same way.
		for _, id := range slices.Sorted(maps.Keys(uses)) {
			at := formatTime(uses[id])
			if _, err := stmt.ExecContext(ctx, at, id, at); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return wrap("touch tokens", err)
	}
	return nil
}
