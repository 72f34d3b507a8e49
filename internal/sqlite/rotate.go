package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqlschema"
	"github.com/latchkey/latchkey/internal/storeerr"
)

// RotateToken replaces the token r.Old with r.Successor in one write
// transaction: see latchkey.TokenStore.
func (db *DB) RotateToken(ctx context.Context, r latchkey.Rotation, audit ...*latchkey.AuditRecord) (*latchkey.Rotated, error) {
	out := &latchkey.Rotated{}
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		*out = latchkey.Rotated{}
		old, err := tokenIn(ctx, tx, r.Old)
		if err != nil {
			return err
		}
		if old.Rotated() && old.Revoked && old.RevokedReason != latchkey.ReasonRotated {
			return latchkey.Errorf(latchkey.ECONFLICT, storeerr.MsgRotateRevoked)
		}
		if old.Rotated() {
			prev, err := tokenIn(ctx, tx, old.RotatedTo)
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
				list, err := json.Marshal(chain)
				if err != nil {
					return err
				}
				// Those revoked by the rotation itself are revoked for
				// reuse now: none may ask to rotate again.
				marked, err := collect(scanText)(tx.QueryContext(ctx, `UPDATE oauth_access_tokens SET revoked_reason = ?
					WHERE revoked = 1 AND revoked_reason = ? AND id IN (SELECT value FROM json_each(?)) RETURNING id`,
					string(latchkey.ReasonReuseDetected), string(latchkey.ReasonRotated), string(list)))
				if err != nil {
					return err
				}
				for _, id := range marked {
					t, err := tokenIn(ctx, tx, id)
					if err != nil {
						return err
					}
					out.Changed = append(out.Changed, t)
				}
				if out.Revoked, err = revokeTokens(ctx, tx, r.At, latchkey.ReasonReuseDetected,
					`t.id IN (SELECT value FROM json_each(?))`, string(list)); err != nil {
					return err
				}
				out.ReuseDetected = true
				if out.Old, err = tokenIn(ctx, tx, old.ID); err != nil {
					return err
				}
				return insertAudit(ctx, tx, latchkey.AuditWithRevocations(latchkey.AuditAsReuse(audit), out.Revoked))
			}
			// The answer that carried prev was lost: its children (Old's,
			// handed on) pass to the new successor, and it is revoked.
			if err := handOn(ctx, tx, prev.ID, r, out); err != nil {
				return err
			}
			superseded, err := revokeTokens(ctx, tx, r.At, latchkey.ReasonSuperseded, `t.id = ?`, prev.ID)
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
		if _, err := tx.ExecContext(ctx,
			`UPDATE oauth_access_tokens SET rotated_to = ?, updated_at = ? WHERE id = ?`,
			r.Successor.ID, formatTime(r.At), old.ID); err != nil {
			return err
		}
		if !old.Revoked {
			if r.GraceUntil.After(r.At) {
				if _, err := tx.ExecContext(ctx,
					`UPDATE oauth_access_tokens SET expires_at = ? WHERE id = ? AND (expires_at IS NULL OR expires_at > ?)`,
					formatTime(r.GraceUntil), old.ID, formatTime(r.GraceUntil)); err != nil {
					return err
				}
			} else {
				revoked, err := revokeTokens(ctx, tx, r.At, latchkey.ReasonRotated, `t.id = ?`, old.ID)
				if err != nil {
					return err
				}
				out.Revoked = append(out.Revoked, revoked...)
			}
		}
		if out.Old, err = tokenIn(ctx, tx, old.ID); err != nil {
			return err
		}
		if !slices.ContainsFunc(out.Revoked, func(t *latchkey.Token) bool { return t.ID == old.ID }) {
			// Its successor changed, and its expiry if it is in grace.
			out.Changed = append(out.Changed, out.Old)
		}
		if err := insertAudit(ctx, tx, latchkey.AuditWithRevocations(audit, out.Revoked)); err != nil {
			return err
		}
		_, err = publish(ctx, tx, latchkey.Event{Kind: latchkey.EventTokenCreated, ID: strconv.FormatInt(r.Successor.UserID, 10)})
		return err
	})
	if err != nil {
		return nil, wrap("rotate token", err)
	}
	return out, nil
}

// tokenIn reads the token id, with its client, in tx. ENOTFOUND when
// there is none.
func tokenIn(ctx context.Context, tx *sql.Tx, id string) (*latchkey.Token, error) {
	t, err := scanToken(tx.QueryRowContext(ctx,
		`SELECT `+sqlschema.TokenColumns+`, `+sqlschema.ClientColumns+sqlschema.TokenFrom+` WHERE t.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, storeerr.NotFound(storeerr.MsgTokenNotFound, err)
	}
	return t, err
}

// handOn gives the live children of the token from to r's successor, and
// cuts their expiry, and their descendants', to the successor's; it adds
// the tokens it changed to out.Changed.
func handOn(ctx context.Context, tx *sql.Tx, from string, r latchkey.Rotation, out *latchkey.Rotated) error {
	at := formatTime(r.At)
	moved, err := collect(scanText)(tx.QueryContext(ctx,
		`UPDATE oauth_access_tokens SET parent_id = ?, updated_at = ?
		WHERE parent_id = ? AND revoked = 0 RETURNING id`, r.Successor.ID, at, from))
	if err != nil {
		return err
	}
	changed := map[string]bool{}
	for _, id := range moved {
		changed[id] = true
	}
	if exp := r.Successor.ExpiresAt; exp != nil && len(moved) > 0 {
		until := formatTime(*exp)
		cut, err := collect(scanText)(tx.QueryContext(ctx, `WITH RECURSIVE tree(id) AS (
				SELECT id FROM oauth_access_tokens WHERE parent_id = ?
				UNION ALL
				SELECT c.id FROM oauth_access_tokens c JOIN tree ON c.parent_id = tree.id)
			UPDATE oauth_access_tokens SET expires_at = ?, updated_at = ?
			WHERE revoked = 0 AND id IN (SELECT id FROM tree) AND (expires_at IS NULL OR expires_at > ?)
			RETURNING id`, r.Successor.ID, until, at, until))
		if err != nil {
			return err
		}
		for _, id := range cut {
			changed[id] = true
		}
	}
	for id := range changed {
		t, err := tokenIn(ctx, tx, id)
		if err != nil {
			return err
		}
		out.Changed = append(out.Changed, t)
	}
	return nil
}

// rotationChain returns the ids of the tokens linked to id by rotation,
// id among them: back through rotated_from to the first, and on through
// rotated_to to the last.
func rotationChain(ctx context.Context, tx *sql.Tx, id string) ([]string, error) {
	return collect(scanText)(tx.QueryContext(ctx, `WITH RECURSIVE
		back(id, prev) AS (
			SELECT id, rotated_from FROM oauth_access_tokens WHERE id = ?
			UNION
			SELECT t.id, t.rotated_from FROM oauth_access_tokens t JOIN back ON t.id = back.prev),
		fwd(id, next) AS (
			SELECT id, rotated_to FROM oauth_access_tokens WHERE id = ?
			UNION
			SELECT t.id, t.rotated_to FROM oauth_access_tokens t JOIN fwd ON t.id = fwd.next)
		SELECT id FROM back UNION SELECT id FROM fwd ORDER BY id`, id, id))
}

// RevokeRotated revokes the rotated tokens whose grace period is over:
// see latchkey.TokenStore.
func (db *DB) RevokeRotated(ctx context.Context, at time.Time, audit ...*latchkey.AuditRecord) ([]*latchkey.Token, error) {
	return db.sweep(ctx, "revoke rotated", at, latchkey.ReasonRotated,
		`t.rotated_to IS NOT NULL AND t.expires_at <= ?`, formatTime(at), audit)
}

// RevokeIdle revokes the tokens unused since before: see
// latchkey.TokenStore. The write transaction is the one at a time.
func (db *DB) RevokeIdle(ctx context.Context, before, at time.Time, audit ...*latchkey.AuditRecord) ([]*latchkey.Token, error) {
	return db.sweep(ctx, "revoke idle", at, latchkey.ReasonIdle,
		`COALESCE(t.last_used_at, t.created_at) <= ?`, formatTime(before), audit)
}

// sweep revokes at at for reason the tokens where, with arg, selects,
// with audit for each, in a write transaction.
func (db *DB) sweep(ctx context.Context, op string, at time.Time, reason latchkey.RevokeReason, where string, arg any, audit []*latchkey.AuditRecord) ([]*latchkey.Token, error) {
	var revoked []*latchkey.Token
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
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
