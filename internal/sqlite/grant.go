package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqlschema"
	"github.com/latchkey/latchkey/internal/storeerr"
)

// markLife is how long PruneGrants keeps a revocation mark: a mark only
// matters while an issuance under its request is in flight.
const markLife = 24 * time.Hour

// grantFields returns the scan destinations of sqlschema.GrantColumns in g.
func grantFields(g *latchkey.Grant) []any {
	return []any{(*string)(&g.Kind), &g.Signature, &g.RequestID, &g.ClientID, &g.UserID,
		&g.Active, &g.Request, timeColumn{&g.CreatedAt}, timeColumn{&g.ExpiresAt}}
}

// insertGrant stores g in tx.
func insertGrant(ctx context.Context, tx *sql.Tx, g *latchkey.Grant) error {
	_, err := tx.ExecContext(ctx,
		`INSERT INTO oauth_grants (kind, signature, request_id, client_id, user_id,
			active, request, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		string(g.Kind), g.Signature, g.RequestID, g.ClientID, g.UserID,
		g.Active, blob(g.Request), formatTime(g.CreatedAt), formatTime(g.ExpiresAt))
	switch {
	case isUnique(err):
		return storeerr.Conflict(storeerr.MsgGrantExists, err)
	case isForeignKey(err):
		return storeerr.NotFound(storeerr.MsgGrantOwnerNotFound, err)
	}
	return err
}

// CreateGrant stores g. ECONFLICT when a grant of its kind with its
// signature exists; ENOTFOUND when its user or client does not exist.
func (db *DB) CreateGrant(ctx context.Context, g *latchkey.Grant) error {
	err := db.writeTx(ctx, func(tx *sql.Tx) error { return insertGrant(ctx, tx, g) })
	if err != nil {
		return wrap("create grant", err)
	}
	return nil
}

// CreateAccessToken stores the access token t and its GrantAccess grant g
// in one transaction: when either cannot be stored, neither is. ECONFLICT
// when the token's id or the grant's signature exists; ENOTFOUND when a
// user or client does not exist.
func (db *DB) CreateAccessToken(ctx context.Context, t *latchkey.Token, g *latchkey.Grant, audit ...*latchkey.AuditRecord) error {
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		if err := insertToken(ctx, tx, t); err != nil {
			return err
		}
		if err := insertGrant(ctx, tx, g); err != nil {
			return err
		}
		return insertAudit(ctx, tx, audit)
	})
	if err != nil {
		return wrap("create access token", err)
	}
	return nil
}

// Grant returns the grant of kind with signature, active or not. ENOTFOUND
// when there is none.
func (db *DB) Grant(ctx context.Context, kind latchkey.GrantKind, signature string) (*latchkey.Grant, error) {
	var g latchkey.Grant
	err := db.queryRow(ctx,
		`SELECT `+sqlschema.GrantColumns+` FROM oauth_grants g WHERE g.kind = ? AND g.signature = ?`,
		string(kind), signature).Scan(grantFields(&g)...)
	if errors.Is(err, sql.ErrNoRows) {
		err = storeerr.NotFound(storeerr.MsgGrantNotFound, err)
	}
	if err != nil {
		return nil, wrap("grant", err)
	}
	if g.Request == nil {
		g.Request = []byte{}
	}
	return &g, nil
}

// DeactivateGrant marks the active grant inactive. ENOTFOUND when there is
// none; ECONFLICT when it is inactive already (used, or deactivated by a
// call at the same time).
func (db *DB) DeactivateGrant(ctx context.Context, kind latchkey.GrantKind, signature string) error {
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE oauth_grants SET active = 0 WHERE kind = ? AND signature = ? AND active = 1`,
			string(kind), signature)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 1 {
			return nil
		}
		// Used already, or never there: the write transaction holds the
		// database, so the answer cannot change in between.
		var one int
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM oauth_grants WHERE kind = ? AND signature = ?`, string(kind), signature).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return storeerr.NotFound(storeerr.MsgGrantNotFound, nil)
		}
		if err != nil {
			return err
		}
		return storeerr.Conflict(storeerr.MsgGrantInactive, nil)
	})
	if err != nil {
		return wrap("deactivate grant", err)
	}
	return nil
}

// DeactivateGrants marks every grant of kind in the authorization
// requestID inactive. None is not an error.
func (db *DB) DeactivateGrants(ctx context.Context, kind latchkey.GrantKind, requestID string) error {
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`UPDATE oauth_grants SET active = 0 WHERE request_id = ? AND kind = ? AND active = 1`,
			requestID, string(kind))
		return err
	})
	if err != nil {
		return wrap("deactivate grants", err)
	}
	return nil
}

// DeleteGrant deletes the grant. None is not an error.
func (db *DB) DeleteGrant(ctx context.Context, kind latchkey.GrantKind, signature string) error {
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`DELETE FROM oauth_grants WHERE kind = ? AND signature = ?`, string(kind), signature)
		return err
	})
	if err != nil {
		return wrap("delete grant", err)
	}
	return nil
}

// RevokeRequestTokens revokes, at at, for reason, every access token
// issued under the authorization requestID (those its GrantAccess grants
// name) and their descendants, and returns those it revoked, the ones not
// revoked before, with their clients; in the same transaction it writes
// audit for them (latchkey.AuditWithTokens).
func (db *DB) RevokeRequestTokens(ctx context.Context, requestID string, at time.Time, reason latchkey.RevokeReason, audit ...*latchkey.AuditRecord) ([]*latchkey.Token, error) {
	var tokens []*latchkey.Token
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		var err error
		tokens, err = revokeTokens(ctx, tx, at, reason,
			`t.id IN (SELECT signature FROM oauth_grants WHERE request_id = ? AND kind = 'access')`,
			requestID)
		if err != nil {
			return err
		}
		return insertAudit(ctx, tx, latchkey.AuditWithTokens(audit, tokens))
	})
	if err != nil {
		return nil, wrap("revoke request tokens", err)
	}
	return tokens, nil
}

// MarkRequestRevoked records, at at, that the authorization requestID is
// revoked, so that AuthorizationLive finds it not live. Marking a marked
// request is not an error, and keeps the first mark's time.
func (db *DB) MarkRequestRevoked(ctx context.Context, requestID string, at time.Time) error {
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO oauth_revoked_requests (request_id, revoked_at) VALUES (?, ?)
			ON CONFLICT (request_id) DO NOTHING`,
			requestID, formatTime(at))
		return err
	})
	if err != nil {
		return wrap("mark request revoked", err)
	}
	return nil
}

// AuthorizationLive reports whether the user's consent to the client
// exists and requestID is not marked revoked, in one read. It needs no
// lock: SQLite runs one write transaction at a time, so a RevokeConsent or
// MarkRequestRevoked either committed before the issuer stored its token,
// and this read, which the issuer makes after that, sees it; or it began
// after the issuer's write committed, and its revocation sees the token.
func (db *DB) AuthorizationLive(ctx context.Context, requestID string, userID, clientID int64) (bool, error) {
	var live bool
	err := db.queryRow(ctx,
		`SELECT EXISTS (SELECT 1 FROM oauth_consents WHERE user_id = ? AND client_id = ?)
			AND NOT EXISTS (SELECT 1 FROM oauth_revoked_requests WHERE request_id = ?)`,
		userID, clientID, requestID).Scan(&live)
	if err != nil {
		return false, wrap("authorization live", err)
	}
	return live, nil
}

// revokeTokens revokes at at, in tx, for reason, the tokens that are not
// revoked and that the condition where on oauth_access_tokens t, with its
// args, selects; then, with ReasonParentRevoked, every descendant of a
// token where selects (revoked or not) that is not revoked. It returns
// those it revoked with their clients: the ones where selects by id, then
// their descendants by id. The result is never nil.
func revokeTokens(ctx context.Context, tx *sql.Tx, at time.Time, reason latchkey.RevokeReason, where string, args ...any) ([]*latchkey.Token, error) {
	ts := formatTime(at)
	ids, err := collect(scanText)(tx.QueryContext(ctx,
		`UPDATE oauth_access_tokens AS t SET revoked = 1, updated_at = ?1, revoked_at = ?1, revoked_reason = ?2
		WHERE revoked = 0 AND `+where+` RETURNING id`,
		append([]any{ts, string(reason)}, args...)...))
	if err != nil {
		return nil, err
	}
	slices.Sort(ids)
	heirs, err := collect(scanText)(tx.QueryContext(ctx,
		`WITH RECURSIVE tree(id) AS (
			SELECT c.id FROM oauth_access_tokens c
			WHERE c.parent_id IN (SELECT t.id FROM oauth_access_tokens t WHERE `+where+`)
			UNION ALL
			SELECT c.id FROM oauth_access_tokens c JOIN tree ON c.parent_id = tree.id)
		UPDATE oauth_access_tokens SET revoked = 1, updated_at = ?, revoked_at = ?, revoked_reason = ?
		WHERE revoked = 0 AND id IN (SELECT id FROM tree) RETURNING id`,
		append(args, ts, ts, string(latchkey.ReasonParentRevoked))...))
	if err != nil {
		return nil, err
	}
	slices.Sort(heirs)
	ids = append(ids, heirs...)
	if len(ids) == 0 {
		return []*latchkey.Token{}, nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	tokens, err := collect(scanToken)(tx.QueryContext(ctx,
		`SELECT `+sqlschema.TokenColumns+`, `+sqlschema.ClientColumns+sqlschema.TokenFrom+`
		WHERE t.id IN (SELECT value FROM json_each(?))`, string(list)))
	if err != nil {
		return nil, err
	}
	order := make(map[string]int, len(ids))
	for i, id := range ids {
		order[id] = i
	}
	slices.SortFunc(tokens, func(a, b *latchkey.Token) int { return order[a.ID] - order[b.ID] })
	return tokens, nil
}

// PruneGrants deletes the grants that expired before before, and says how
// many. In the same transaction it deletes the revocation marks made more
// than markLife before before, which it does not count.
func (db *DB) PruneGrants(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`DELETE FROM oauth_grants WHERE expires_at < ?`, formatTime(before))
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx,
			`DELETE FROM oauth_revoked_requests WHERE revoked_at < ?
			AND NOT EXISTS (SELECT 1 FROM oauth_grants g WHERE g.request_id = oauth_revoked_requests.request_id)`, formatTime(before.Add(-markLife)))
		return err
	})
	if err != nil {
		return 0, wrap("prune grants", err)
	}
	return n, nil
}

// endGrants, in tx, marks revoked at at every authorization that has a
// grant the condition where on oauth_grants, with its args, selects, so
// that a token of one still being issued is refused, and deactivates those
// grants.
func endGrants(ctx context.Context, tx *sql.Tx, at time.Time, where string, args ...any) error {
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO oauth_revoked_requests (request_id, revoked_at)
		SELECT DISTINCT request_id, ? FROM oauth_grants WHERE `+where+`
		ON CONFLICT (request_id) DO NOTHING`,
		append([]any{formatTime(at)}, args...)...); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE oauth_grants SET active = 0 WHERE active = 1 AND `+where, args...)
	return err
}
