package postgres

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqlschema"
	"github.com/latchkey/latchkey/internal/storeerr"
)

// RotateToken replaces the token r.Old with r.Successor in one
// transaction: see latchkey.TokenStore. Old is locked first, so that two
// rotations of one token take turns, and the second sees the first's
// successor.
func (db *DB) RotateToken(ctx context.Context, r latchkey.Rotation, audit ...*latchkey.AuditRecord) (*latchkey.Rotated, error) {
	if !storable(r.Old) {
		return nil, wrap("rotate token", storeerr.NotFound(storeerr.MsgTokenNotFound, nil))
	}
	ch, err := db.channel(ctx)
	if err != nil {
		return nil, wrap("rotate token", err)
	}
	out := &latchkey.Rotated{}
	err = db.tx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		*out = latchkey.Rotated{}
		old, err := tokenIn(ctx, tx, r.Old, true)
		if err != nil {
			return err
		}
		if old.Rotated() && old.Revoked && old.RevokedReason != latchkey.ReasonRotated {
			return latchkey.Errorf(latchkey.ECONFLICT, storeerr.MsgRotateRevoked)
		}
		if old.Rotated() {
			prev, err := tokenIn(ctx, tx, old.RotatedTo, true)
			if err != nil {
				return err
			}
			if prev.Revoked && prev.RevokedReason != latchkey.ReasonReuseDetected {
				// Revoked for itself (or with its parent, or its user):
				// the chain was ended on purpose, and stays ended.
				return latchkey.Errorf(latchkey.ECONFLICT, storeerr.MsgRotateRevoked)
			}
			if prev.LastUsedAt != nil || prev.Rotated() || prev.Revoked {
				if !r.DetectReuse {
					return latchkey.Errorf(latchkey.ECONFLICT, storeerr.MsgRotatedAlready)
				}
				chain, err := rotationChain(ctx, tx, old.ID)
				if err != nil {
					return err
				}
				// Those revoked by the rotation itself are revoked for
				// reuse now: none may ask to rotate again.
				marked, err := texts(tx.Query(ctx, `UPDATE oauth_access_tokens SET revoked_reason = $1
					WHERE revoked AND revoked_reason = $2 AND id = ANY($3::text[]) RETURNING id`,
					string(latchkey.ReasonReuseDetected), string(latchkey.ReasonRotated), chain))
				if err != nil {
					return err
				}
				for _, id := range marked {
					t, err := tokenIn(ctx, tx, id, false)
					if err != nil {
						return err
					}
					out.Changed = append(out.Changed, t)
				}
				if out.Revoked, err = revokeTokens(ctx, tx, r.At, latchkey.ReasonReuseDetected,
					`t.id = ANY($3::text[])`, chain); err != nil {
					return err
				}
				out.ReuseDetected = true
				if out.Old, err = tokenIn(ctx, tx, old.ID, false); err != nil {
					return err
				}
				return insertAudit(ctx, tx, latchkey.AuditWithRevocations(latchkey.AuditAsReuse(audit), out.Revoked))
			}
			// The answer that carried prev was lost: its children (Old's,
			// handed on) pass to the new successor, and it is revoked.
			if err := handOn(ctx, tx, prev.ID, r, out); err != nil {
				return err
			}
			superseded, err := revokeTokens(ctx, tx, r.At, latchkey.ReasonSuperseded, `t.id = $3`, prev.ID)
			if err != nil {
				return err
			}
			out.Revoked = append(out.Revoked, superseded...)
		} else {
			switch {
			case old.Revoked:
				return latchkey.Errorf(latchkey.ECONFLICT, storeerr.MsgRotateRevoked)
			case old.Expired(r.At):
				return latchkey.Errorf(latchkey.ECONFLICT, storeerr.MsgRotateExpired)
			}
			if err := handOn(ctx, tx, old.ID, r, out); err != nil {
				return err
			}
		}
		if err := parentLive(ctx, tx, r.Successor.ParentID); err != nil {
			return err
		}
		if err := insertToken(ctx, tx, r.Successor); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx,
			`UPDATE oauth_access_tokens SET rotated_to = $1, updated_at = $2 WHERE id = $3`,
			r.Successor.ID, storedTime(r.At), old.ID); err != nil {
			return err
		}
		if !old.Revoked {
			if r.GraceUntil.After(r.At) {
				if _, err := tx.Exec(ctx,
					`UPDATE oauth_access_tokens SET expires_at = $1 WHERE id = $2 AND (expires_at IS NULL OR expires_at > $1)`,
					storedTime(r.GraceUntil), old.ID); err != nil {
					return err
				}
			} else {
				revoked, err := revokeTokens(ctx, tx, r.At, latchkey.ReasonRotated, `t.id = $3`, old.ID)
				if err != nil {
					return err
				}
				out.Revoked = append(out.Revoked, revoked...)
			}
		}
		if out.Old, err = tokenIn(ctx, tx, old.ID, false); err != nil {
			return err
		}
		if !slices.ContainsFunc(out.Revoked, func(t *latchkey.Token) bool { return t.ID == old.ID }) {
			// Its successor changed, and its expiry if it is in grace.
			out.Changed = append(out.Changed, out.Old)
		}
		if err := insertAudit(ctx, tx, latchkey.AuditWithRevocations(audit, out.Revoked)); err != nil {
			return err
		}
		_, err = publish(ctx, tx, ch, latchkey.Event{Kind: latchkey.EventTokenCreated, ID: strconv.FormatInt(r.Successor.UserID, 10)})
		return err
	})
	if err != nil {
		return nil, wrap("rotate token", err)
	}
	return out, nil
}

// tokenIn reads the token id, with its client, in tx, locking its row
// when lock is true. ENOTFOUND when there is none.
func tokenIn(ctx context.Context, tx pgx.Tx, id string, lock bool) (*latchkey.Token, error) {
	q := `SELECT ` + sqlschema.TokenColumns + `, ` + sqlschema.ClientColumns + sqlschema.TokenFrom + ` WHERE t.id = $1`
	if lock {
		q += ` FOR NO KEY UPDATE OF t`
	}
	t, err := scanToken(tx.QueryRow(ctx, q, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, storeerr.NotFound(storeerr.MsgTokenNotFound, err)
	}
	return t, err
}

// handOn gives the live children of the token from to r's successor, and
// cuts their expiry, and their descendants', to the successor's; it adds
// the tokens it changed to out.Changed.
func handOn(ctx context.Context, tx pgx.Tx, from string, r latchkey.Rotation, out *latchkey.Rotated) error {
	at := storedTime(r.At)
	ids, err := texts(tx.Query(ctx,
		`UPDATE oauth_access_tokens SET parent_id = $1, updated_at = $2
		WHERE parent_id = $3 AND NOT revoked RETURNING id`, r.Successor.ID, at, from))
	if err != nil {
		return err
	}
	changed := map[string]bool{}
	for _, id := range ids {
		changed[id] = true
	}
	if exp := r.Successor.ExpiresAt; exp != nil && len(ids) > 0 {
		cut, err := texts(tx.Query(ctx, `WITH RECURSIVE tree(id) AS (
				SELECT id FROM oauth_access_tokens WHERE parent_id = $1
				UNION ALL
				SELECT c.id FROM oauth_access_tokens c JOIN tree ON c.parent_id = tree.id)
			UPDATE oauth_access_tokens SET expires_at = $2, updated_at = $3
			WHERE NOT revoked AND id IN (SELECT id FROM tree) AND (expires_at IS NULL OR expires_at > $2)
			RETURNING id`, r.Successor.ID, storedTime(*exp), at))
		if err != nil {
			return err
		}
		for _, id := range cut {
			changed[id] = true
		}
	}
	for id := range changed {
		t, err := tokenIn(ctx, tx, id, false)
		if err != nil {
			return err
		}
		out.Changed = append(out.Changed, t)
	}
	return nil
}

// texts reads the one text column of every row of rows.
func texts(rows pgx.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// rotationChain returns the ids of the tokens linked to id by rotation,
// id among them: back through rotated_from to the first, and on through
// rotated_to to the last.
func rotationChain(ctx context.Context, tx pgx.Tx, id string) ([]string, error) {
	return texts(tx.Query(ctx, `WITH RECURSIVE
		back(id, prev) AS (
			SELECT id, rotated_from FROM oauth_access_tokens WHERE id = $1
			UNION
			SELECT t.id, t.rotated_from FROM oauth_access_tokens t JOIN back ON t.id = back.prev),
		fwd(id, next) AS (
			SELECT id, rotated_to FROM oauth_access_tokens WHERE id = $1
			UNION
			SELECT t.id, t.rotated_to FROM oauth_access_tokens t JOIN fwd ON t.id = fwd.next)
		SELECT id FROM back UNION SELECT id FROM fwd ORDER BY id`, id))
}

// RevokeRotated revokes the rotated tokens whose grace period is over:
// see latchkey.TokenStore.
func (db *DB) RevokeRotated(ctx context.Context, at time.Time, audit ...*latchkey.AuditRecord) ([]*latchkey.Token, error) {
	return db.sweep(ctx, "revoke rotated", false, at, latchkey.ReasonRotated,
		`t.rotated_to IS NOT NULL AND t.expires_at <= $3`, storedTime(at), audit)
}

// idleSweepLock is the advisory lock of RevokeIdle, one sweep at a time,
// with the schema's hash: a deployment's sweep waits for no other's.
const (
	idleSweepLock  = 0x4c4b_1d1e // "LK idle"
	idleSweepQuery = `SELECT pg_try_advisory_xact_lock($1::int4, hashtext(current_schema()))`
)

// RevokeIdle revokes the tokens unused since before: see
// latchkey.TokenStore. A transaction-scoped advisory lock is the one at a
// time: a sweep that does not get it at once revokes nothing.
func (db *DB) RevokeIdle(ctx context.Context, before, at time.Time, audit ...*latchkey.AuditRecord) ([]*latchkey.Token, error) {
	return db.sweep(ctx, "revoke idle", true, at, latchkey.ReasonIdle,
		`COALESCE(t.last_used_at, t.created_at) <= $3`, storedTime(before), audit)
}

// sweep revokes at at for reason the tokens where, with arg as $3,
// selects, with audit for each; with alone, only if it takes the idle
// sweep's lock at once.
func (db *DB) sweep(ctx context.Context, op string, alone bool, at time.Time, reason latchkey.RevokeReason, where string, arg any, audit []*latchkey.AuditRecord) ([]*latchkey.Token, error) {
	var revoked []*latchkey.Token
	err := db.tx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		revoked = nil
		if alone {
			var mine bool
			if err := tx.QueryRow(ctx, idleSweepQuery, int32(idleSweepLock)).Scan(&mine); err != nil || !mine {
				return err
			}
		}
		var err error
		if revoked, err = revokeTokens(ctx, tx, at, reason, where, arg); err != nil || len(revoked) == 0 {
			return err
		}
		return insertAudit(ctx, tx, latchkey.AuditWithTokens(audit, revoked))
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	return revoked, nil
}
