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

// markLife is how long PruneGrants keeps a revocation mark: a mark only
// matters while an issuance under its request is in flight.
const markLife = 24 * time.Hour

// grantFields returns the scan destinations of sqlschema.GrantColumns in g; call
// fixGrant after the scan.
func grantFields(g *latchkey.Grant) []any {
	return []any{(*string)(&g.Kind), &g.Signature, &g.RequestID, &g.ClientID, &g.UserID,
		&g.Active, &g.Request, &g.CreatedAt, &g.ExpiresAt}
}

// fixGrant finishes a scanned grant: its request is never nil, as in the
// SQLite backend.
func fixGrant(g *latchkey.Grant) {
	if g.Request == nil {
		g.Request = []byte{}
	}
}

// insertGrant stores g with e. ECONFLICT when a grant of its kind with its
// signature exists; ENOTFOUND when its user or client does not exist.
func insertGrant(ctx context.Context, e execer, g *latchkey.Grant) error {
	_, err := e.Exec(ctx,
		`INSERT INTO oauth_grants (kind, signature, request_id, client_id, user_id,
			active, request, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		string(g.Kind), g.Signature, g.RequestID, g.ClientID, g.UserID,
		g.Active, blob(g.Request), storedTime(g.CreatedAt), storedTime(g.ExpiresAt))
	switch pgCode(err) {
	case codeUniqueViolation:
		err = storeerr.Conflict(storeerr.MsgGrantExists, err)
	case codeForeignKeyViolation:
		err = storeerr.NotFound(storeerr.MsgGrantOwnerNotFound, err)
	}
	return err
}

// CreateGrant stores g. ECONFLICT when a grant of its kind with its
// signature exists; ENOTFOUND when its user or client does not exist.
func (db *DB) CreateGrant(ctx context.Context, g *latchkey.Grant) error {
	err := retry(ctx, func() error { return insertGrant(ctx, db.pool, g) })
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
	err := db.tx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
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
	if !storable(string(kind)) || !storable(signature) {
		return nil, wrap("grant", storeerr.NotFound(storeerr.MsgGrantNotFound, nil))
	}
	var g latchkey.Grant
	err := db.pool.QueryRow(ctx,
		`SELECT `+sqlschema.GrantColumns+` FROM oauth_grants g WHERE g.kind = $1 AND g.signature = $2`,
		string(kind), signature).Scan(grantFields(&g)...)
	if errors.Is(err, pgx.ErrNoRows) {
		err = storeerr.NotFound(storeerr.MsgGrantNotFound, err)
	}
	if err != nil {
		return nil, wrap("grant", err)
	}
	fixGrant(&g)
	return &g, nil
}

// DeactivateGrant marks the active grant inactive. ENOTFOUND when there is
// none; ECONFLICT when it is inactive already (used, or deactivated by a
// call at the same time).
func (db *DB) DeactivateGrant(ctx context.Context, kind latchkey.GrantKind, signature string) error {
	if !storable(string(kind)) || !storable(signature) {
		return wrap("deactivate grant", storeerr.NotFound(storeerr.MsgGrantNotFound, nil))
	}
	var n int64
	err := retry(ctx, func() error {
		// Under READ COMMITTED a second UPDATE waits for the first one's
		// row lock, then sees active = false and changes nothing.
		tag, err := db.pool.Exec(ctx,
			`UPDATE oauth_grants SET active = false WHERE kind = $1 AND signature = $2 AND active`,
			string(kind), signature)
		n = tag.RowsAffected()
		return err
	})
	if err == nil && n == 0 {
		var exists bool
		err = db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM oauth_grants WHERE kind = $1 AND signature = $2)`,
			string(kind), signature).Scan(&exists)
		switch {
		case err != nil:
		case exists:
			err = storeerr.Conflict(storeerr.MsgGrantInactive, nil)
		default:
			err = storeerr.NotFound(storeerr.MsgGrantNotFound, nil)
		}
	}
	if err != nil {
		return wrap("deactivate grant", err)
	}
	return nil
}

// DeactivateGrants marks every grant of kind in the authorization
// requestID inactive. None is not an error.
func (db *DB) DeactivateGrants(ctx context.Context, kind latchkey.GrantKind, requestID string) error {
	if !storable(string(kind)) || !storable(requestID) {
		return nil // no stored grant has them
	}
	err := retry(ctx, func() error {
		return deactivateGrants(ctx, db.pool, `request_id = $1 AND kind = $2`, requestID, string(kind))
	})
	if err != nil {
		return wrap("deactivate grants", err)
	}
	return nil
}

// deactivateGrants marks inactive, with e, the active grants that the
// condition where on oauth_grants, with its args, selects. It locks them
// in key order first, as every statement that deactivates several grants
// does, so that two of them do not deadlock.
func deactivateGrants(ctx context.Context, e execer, where string, args ...any) error {
	_, err := e.Exec(ctx,
		`UPDATE oauth_grants g SET active = false
		FROM (SELECT kind, signature FROM oauth_grants
			WHERE active AND `+where+`
			ORDER BY kind, signature
			FOR NO KEY UPDATE) l
		WHERE g.kind = l.kind AND g.signature = l.signature AND g.active`, args...)
	return err
}

// DeleteGrant deletes the grant. None is not an error.
func (db *DB) DeleteGrant(ctx context.Context, kind latchkey.GrantKind, signature string) error {
	if !storable(string(kind)) || !storable(signature) {
		return nil // no stored grant has them
	}
	err := retry(ctx, func() error {
		_, err := db.pool.Exec(ctx,
			`DELETE FROM oauth_grants WHERE kind = $1 AND signature = $2`, string(kind), signature)
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
	if !storable(requestID) {
		return []*latchkey.Token{}, nil // no stored grant has it
	}
	var tokens []*latchkey.Token
	err := db.tx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		var err error
		tokens, err = revokeTokens(ctx, tx, at, reason,
			`t.id IN (SELECT signature FROM oauth_grants WHERE request_id = $3 AND kind = 'access')`,
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
// request is not an error, and keeps the first mark's time. A requestID
// that cannot be stored is not marked: no grant can be stored under it.
func (db *DB) MarkRequestRevoked(ctx context.Context, requestID string, at time.Time) error {
	if !storable(requestID) {
		return nil // no stored grant has it
	}
	err := retry(ctx, func() error {
		_, err := db.pool.Exec(ctx,
			`INSERT INTO oauth_revoked_requests (request_id, revoked_at) VALUES ($1, $2)
			ON CONFLICT (request_id) DO NOTHING`,
			requestID, storedTime(at))
		return err
	})
	if err != nil {
		return wrap("mark request revoked", err)
	}
	return nil
}

// AuthorizationLive reports whether the user's consent to the client
// exists and requestID is not marked revoked, in one statement outside any
// transaction of the caller's.
//
// The consent is read FOR SHARE. RevokeConsent deletes the consent row
// before it revokes tokens, so the two serialize on that row's lock: when
// the DELETE holds it first, this read waits for RevokeConsent to commit
// and then finds no consent; when this read holds it first, the DELETE
// waits for this statement to end, and RevokeConsent's later statements,
// each with a snapshot of its own (READ COMMITTED), see the token the
// issuer committed before it called AuthorizationLive. The mark needs no
// lock: MarkRequestRevoked commits before the revoker revokes, so a mark
// this statement's snapshot misses was committed after the issuer's token,
// which the revocation after it then sees.
func (db *DB) AuthorizationLive(ctx context.Context, requestID string, userID, clientID int64) (bool, error) {
	var request any = requestID
	if !storable(requestID) {
		// No stored mark has it: NULL matches none, and the consent alone
		// decides.
		request = nil
	}
	var live bool
	err := retry(ctx, func() error {
		return db.pool.QueryRow(ctx,
			`SELECT EXISTS (SELECT 1 FROM oauth_consents WHERE user_id = $1 AND client_id = $2 FOR SHARE)
				AND NOT EXISTS (SELECT 1 FROM oauth_revoked_requests WHERE request_id = $3::text)`,
			userID, clientID, request).Scan(&live)
	})
	if err != nil {
		return false, wrap("authorization live", err)
	}
	return live, nil
}

// A querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// revokeTokens revokes at at, with q, for reason, the tokens that are not
// revoked and that the condition where on oauth_access_tokens t selects,
// then, with ReasonParentRevoked, every descendant of a token where
// selects (revoked or not) that is not revoked. It returns those it
// revoked with their clients: the ones where selects by id, then their
// descendants. where's parameters start at $3, args are their values.
// The tokens are locked in id order before they are updated, as
// RevokeClient and TouchTokens lock them, so that they do not deadlock.
//
// q must be a READ COMMITTED transaction: the descendants are revoked
// statement after statement until one finds none, each with a snapshot of
// its own, so that a child whose CreateToken held its parent (FOR SHARE)
// while a statement waited for that parent's lock is seen by the next.
// A CreateToken that comes after waits for this transaction and then
// finds its parent revoked.
func revokeTokens(ctx context.Context, q querier, at time.Time, reason latchkey.RevokeReason, where string, args ...any) ([]*latchkey.Token, error) {
	// revoke runs the statement that locks, in id order, the tokens that
	// are not revoked and that the condition which selects, revokes them
	// for the reason in $2, and returns them with their clients; with
	// is a WITH RECURSIVE item or "".
	revoke := func(with, which string, args []any) ([]*latchkey.Token, error) {
		rows, err := q.Query(ctx,
			`WITH RECURSIVE `+with+`
			locked AS (
				SELECT t.id FROM oauth_access_tokens t
				WHERE NOT t.revoked AND `+which+`
				ORDER BY t.id
				FOR NO KEY UPDATE OF t),
			revoked AS (
				UPDATE oauth_access_tokens t SET revoked = true, updated_at = $1, revoked_at = $1, revoked_reason = $2
				FROM locked l
				WHERE t.id = l.id AND NOT t.revoked
				RETURNING t.*)
			SELECT `+sqlschema.TokenColumns+`, `+sqlschema.ClientColumns+` FROM revoked t
			JOIN oauth_clients c ON c.id = t.client_id
			ORDER BY t.id`, args...)
		if err != nil {
			return nil, err
		}
		return collect(rows, scanToken)
	}
	tokens, err := revoke("", where, append([]any{storedTime(at), string(reason)}, args...))
	if err != nil {
		return nil, err
	}
	const tree = `tree(id) AS (
			SELECT c.id FROM oauth_access_tokens c
			WHERE c.parent_id IN (SELECT t.id FROM oauth_access_tokens t WHERE {where})
			UNION ALL
			SELECT c.id FROM oauth_access_tokens c JOIN tree ON c.parent_id = tree.id),`
	heirs := append([]any{storedTime(at), string(latchkey.ReasonParentRevoked)}, args...)
	for {
		more, err := revoke(strings.Replace(tree, "{where}", where, 1), `t.id IN (SELECT id FROM tree)`, heirs)
		if err != nil {
			return nil, err
		}
		if len(more) == 0 {
			return tokens, nil
		}
		tokens = append(tokens, more...)
	}
}

// PruneGrants deletes the grants that expired before before, and says how
// many. In the same transaction it deletes the revocation marks made more
// than markLife before before, which it does not count.
func (db *DB) PruneGrants(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := db.tx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx,
			`DELETE FROM oauth_grants WHERE expires_at < $1`, storedTime(before))
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		_, err = tx.Exec(ctx,
			`DELETE FROM oauth_revoked_requests m WHERE m.revoked_at < $1
				AND NOT EXISTS (SELECT 1 FROM oauth_grants g WHERE g.request_id = m.request_id)`, storedTime(before.Add(-markLife)))
		return err
	})
	if err != nil {
		return 0, wrap("prune grants", err)
	}
	return n, nil
}

// markRevoked, with e, marks revoked at at every authorization that has a
// grant the condition where on oauth_grants selects; where's parameters
// start at $2, its args following at's.
func markRevoked(ctx context.Context, e execer, at time.Time, where string, args ...any) error {
	_, err := e.Exec(ctx,
		`INSERT INTO oauth_revoked_requests (request_id, revoked_at)
		SELECT DISTINCT request_id, $1::timestamptz FROM oauth_grants WHERE `+where+`
		ON CONFLICT (request_id) DO NOTHING`,
		append([]any{storedTime(at)}, args...)...)
	return err
}
