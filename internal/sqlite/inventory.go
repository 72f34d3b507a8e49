package sqlite

import (
	"context"
	"database/sql"
	"slices"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqlschema"
)

// Inventory returns the page of every user's tokens f selects, each with
// its client and its owner's username and email, and how many f selects
// on all pages, both read in one read transaction, so from one snapshot.
// EINVALID for an unknown order or state.
//
// The default order, newest first across every user, is the index
// oauth_access_tokens_created (migration 0013): a page is a range of it,
// not a sort of the table.
func (db *DB) Inventory(ctx context.Context, f latchkey.InventoryFilter) ([]*latchkey.InventoryToken, int, error) {
	q, err := inventoryQuery(f)
	if err != nil {
		return nil, 0, wrap("inventory", err)
	}
	tokens := []*latchkey.InventoryToken{}
	var total int
	err = db.readTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM oauth_access_tokens t`+q.where, q.args...).Scan(&total); err != nil {
			return err
		}
		return eachInventoryRow(ctx, tx, q, f.Offset, f.Limit, func(it *latchkey.InventoryToken) error {
			tokens = append(tokens, it)
			return nil
		})
	})
	if err != nil {
		return nil, 0, wrap("inventory", err)
	}
	return tokens, total, nil
}

// EachInventoryToken calls fn with each token f selects, in f's order, as
// the rows are read, in one read transaction: one row is held at a time,
// however many there are. An error of fn stops the reading and is
// returned as it is. EINVALID for an unknown order or state.
//
// The transaction holds a connection of the read pool, and its snapshot
// holds back checkpoints, until the last row is read: callers that write
// the rows to a slow reader should bound how many run at once.
func (db *DB) EachInventoryToken(ctx context.Context, f latchkey.InventoryFilter, fn func(*latchkey.InventoryToken) error) error {
	q, err := inventoryQuery(f)
	if err != nil {
		return wrap("inventory", err)
	}
	var fnErr error
	err = db.readTx(ctx, func(tx *sql.Tx) error {
		return eachInventoryRow(ctx, tx, q, f.Offset, f.Limit, func(it *latchkey.InventoryToken) error {
			if err := fn(it); err != nil {
				fnErr = err
				return err
			}
			return nil
		})
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return wrap("inventory", err)
	}
	return nil
}

// eachInventoryRow reads the rows of q in tx, from offset, at most limit
// of them (0: all), and calls fn with each as it is read.
func eachInventoryRow(ctx context.Context, tx *sql.Tx, q inventorySQL, offset, lim int, fn func(*latchkey.InventoryToken) error) error {
	args := append(slices.Clip(q.args), limit(lim), max(offset, 0))
	rows, err := tx.QueryContext(ctx, `SELECT `+sqlschema.InventoryColumns+sqlschema.InventoryFrom+q.where+
		` ORDER BY `+q.order+`, t.id DESC LIMIT ? OFFSET ?`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			t  latchkey.Token
			c  latchkey.Client
			it = latchkey.InventoryToken{Token: &t}
		)
		dest := slices.Concat(tokenFields(&t), []any{&it.Username, &it.Email}, clientFields(&c))
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		t.Client = &c
		if err := fn(&it); err != nil {
			return err
		}
	}
	return rows.Err()
}

// inventorySQL is the WHERE clause of an inventory read, with its
// arguments, and its ORDER BY term before the tie-break on id.
type inventorySQL struct {
	where string
	args  []any
	order string
}

// inventoryQuery returns the SQL of what f selects. Every condition is on
// the token's own columns.
func inventoryQuery(f latchkey.InventoryFilter) (inventorySQL, error) {
	order, err := tokenOrder(f.OrderBy, f.Ascending)
	if err != nil {
		return inventorySQL{}, err
	}
	var conds []string
	var args []any
	cond := func(c string, a ...any) {
		conds = append(conds, c)
		args = append(args, a...)
	}
	if f.UserID != 0 {
		cond(`t.user_id = ?`, f.UserID)
	}
	if f.ClientID != 0 {
		cond(`t.client_id = ?`, f.ClientID)
	}
	if len(f.States) > 0 {
		now := formatTime(f.Now)
		var states []string
		var seen []latchkey.TokenState
		for _, st := range f.States {
			if slices.Contains(seen, st) {
				continue
			}
			seen = append(seen, st)
			switch st {
			case latchkey.StateActive:
				states = append(states, `(t.revoked = 0 AND (t.expires_at IS NULL OR t.expires_at > ?))`)
				args = append(args, now)
			case latchkey.StateExpired:
				states = append(states, `(t.revoked = 0 AND t.expires_at <= ?)`)
				args = append(args, now)
			case latchkey.StateRevoked:
				states = append(states, `t.revoked = 1`)
			default:
				return inventorySQL{}, latchkey.Errorf(latchkey.EINVALID, "No token is in the state %q.", st)
			}
		}
		conds = append(conds, `(`+strings.Join(states, ` OR `)+`)`)
	}
	if f.CreatedAfter != nil {
		cond(`t.created_at >= ?`, formatTime(*f.CreatedAfter))
	}
	if f.CreatedBefore != nil {
		cond(`t.created_at < ?`, formatTime(*f.CreatedBefore))
	}
	if f.ExpiresAfter != nil {
		cond(`(t.expires_at IS NULL OR t.expires_at >= ?)`, formatTime(*f.ExpiresAfter))
	}
	if f.ExpiresBefore != nil {
		cond(`t.expires_at < ?`, formatTime(*f.ExpiresBefore))
	}
	if f.LastUsedAfter != nil {
		cond(`t.last_used_at >= ?`, formatTime(*f.LastUsedAfter))
	}
	if f.LastUsedBefore != nil {
		cond(`t.last_used_at < ?`, formatTime(*f.LastUsedBefore))
	}
	if f.NeverUsed != nil {
		if *f.NeverUsed {
			cond(`t.last_used_at IS NULL`)
		} else {
			cond(`t.last_used_at IS NOT NULL`)
		}
	}
	switch f.Scope {
	case "":
	case latchkey.ScopeAll:
		cond(`(json_array_length(t.scopes) = 0 OR EXISTS (SELECT 1 FROM json_each(t.scopes) WHERE value = '*'))`)
	default:
		cond(`(json_array_length(t.scopes) = 0 OR EXISTS (SELECT 1 FROM json_each(t.scopes) WHERE value IN (?, '*')))`, f.Scope)
	}
	if f.Name != "" {
		cond(`instr(t.name_folded, ?) > 0`, strings.ToLower(f.Name))
	}
	q := inventorySQL{args: args, order: order}
	if len(conds) > 0 {
		q.where = ` WHERE ` + strings.Join(conds, ` AND `)
	}
	return q, nil
}
