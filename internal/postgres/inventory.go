package postgres

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqlschema"
)

// Inventory returns the page of every user's tokens f selects, each with
// its client and its owner's username and email, and how many f selects
// on all pages, both read in one read-only REPEATABLE READ transaction,
// so from one snapshot. EINVALID for an unknown order or state.
//
// The default order, newest first across every user, is the index
// oauth_access_tokens_created (migration 0011): a page is a range of it,
// not a sort of the table.
func (db *DB) Inventory(ctx context.Context, f latchkey.InventoryFilter) ([]*latchkey.InventoryToken, int, error) {
	q, err := inventoryQuery(f)
	if err != nil {
		return nil, 0, wrap("inventory", err)
	}
	var tokens []*latchkey.InventoryToken
	var total int
	if q.none {
		return []*latchkey.InventoryToken{}, 0, nil
	}
	err = db.tx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		tokens = []*latchkey.InventoryToken{}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM oauth_access_tokens t`+q.where, q.args...).Scan(&total); err != nil {
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
// the rows arrive, in one statement (so from one snapshot): pgx holds
// what one network read brings, however many rows there are. An error of
// fn stops the reading and is returned as it is. EINVALID for an unknown
// order or state. It holds a connection of the pool until the last row is
// read.
func (db *DB) EachInventoryToken(ctx context.Context, f latchkey.InventoryFilter, fn func(*latchkey.InventoryToken) error) error {
	q, err := inventoryQuery(f)
	if err != nil {
		return wrap("inventory", err)
	}
	if q.none {
		return nil
	}
	var fnErr error
	err = eachInventoryRow(ctx, db.pool, q, f.Offset, f.Limit, func(it *latchkey.InventoryToken) error {
		if err := fn(it); err != nil {
			fnErr = err
			return err
		}
		return nil
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return wrap("inventory", err)
	}
	return nil
}

// eachInventoryRow reads the rows of q with qr, from offset, at most limit
// of them (0: all), and calls fn with each as it is read.
func eachInventoryRow(ctx context.Context, qr querier, q inventorySQL, offset, lim int, fn func(*latchkey.InventoryToken) error) error {
	args := slices.Clip(q.args)
	n := len(args)
	rows, err := qr.Query(ctx, `SELECT `+sqlschema.InventoryColumns+sqlschema.InventoryFrom+q.where+
		` ORDER BY `+q.order+`, t.id DESC LIMIT $`+strconv.Itoa(n+1)+` OFFSET $`+strconv.Itoa(n+2),
		append(args, limit(lim), max(offset, 0))...)
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
		fixToken(&t)
		t.Client = &c
		if err := fn(&it); err != nil {
			return err
		}
	}
	return rows.Err()
}

// inventorySQL is the WHERE clause of an inventory read, with its
// arguments ($1 on), and its ORDER BY term before the tie-break on id.
// none: no stored token can match (a value no text column holds).
type inventorySQL struct {
	where string
	args  []any
	order string
	none  bool
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
	param := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.UserID != 0 {
		conds = append(conds, `t.user_id = `+param(f.UserID))
	}
	if f.ClientID != 0 {
		conds = append(conds, `t.client_id = `+param(f.ClientID))
	}
	if len(f.States) > 0 {
		var states []string
		var seen []latchkey.TokenState
		now := ""
		for _, st := range f.States {
			if slices.Contains(seen, st) {
				continue
			}
			seen = append(seen, st)
			switch st {
			case latchkey.StateActive, latchkey.StateExpired:
				if now == "" {
					now = param(storedTime(f.Now))
				}
				if st == latchkey.StateActive {
					states = append(states, `(NOT t.revoked AND (t.expires_at IS NULL OR t.expires_at > `+now+`))`)
				} else {
					states = append(states, `(NOT t.revoked AND t.expires_at <= `+now+`)`)
				}
			case latchkey.StateRevoked:
				states = append(states, `t.revoked`)
			default:
				return inventorySQL{}, latchkey.Errorf(latchkey.EINVALID, "No token is in the state %q.", st)
			}
		}
		conds = append(conds, `(`+strings.Join(states, ` OR `)+`)`)
	}
	if f.CreatedAfter != nil {
		conds = append(conds, `t.created_at >= `+param(storedTime(*f.CreatedAfter)))
	}
	if f.CreatedBefore != nil {
		conds = append(conds, `t.created_at < `+param(storedTime(*f.CreatedBefore)))
	}
	if f.ExpiresAfter != nil {
		conds = append(conds, `(t.expires_at IS NULL OR t.expires_at >= `+param(storedTime(*f.ExpiresAfter))+`)`)
	}
	if f.ExpiresBefore != nil {
		conds = append(conds, `t.expires_at < `+param(storedTime(*f.ExpiresBefore)))
	}
	if f.LastUsedAfter != nil {
		conds = append(conds, `t.last_used_at >= `+param(storedTime(*f.LastUsedAfter)))
	}
	if f.LastUsedBefore != nil {
		conds = append(conds, `t.last_used_at < `+param(storedTime(*f.LastUsedBefore)))
	}
	if f.NeverUsed != nil {
		if *f.NeverUsed {
			conds = append(conds, `t.last_used_at IS NULL`)
		} else {
			conds = append(conds, `t.last_used_at IS NOT NULL`)
		}
	}
	q := inventorySQL{order: order}
	switch {
	case f.Scope == "":
	case f.Scope == latchkey.ScopeAll:
		conds = append(conds, `(cardinality(t.scopes) = 0 OR '*' = ANY (t.scopes))`)
	case !storable(f.Scope):
		q.none = true
	default:
		conds = append(conds, `(cardinality(t.scopes) = 0 OR t.scopes && ARRAY[`+param(f.Scope)+`::text, '*'])`)
	}
	if f.Name != "" {
		if !storable(f.Name) {
			q.none = true
		}
		conds = append(conds, `strpos(t.name_folded, `+param(strings.ToLower(f.Name))+`) > 0`)
	}
	q.args = args
	if len(conds) > 0 {
		q.where = ` WHERE ` + strings.Join(conds, ` AND `)
	}
	return q, nil
}
