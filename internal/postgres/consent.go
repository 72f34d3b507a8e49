package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqlschema"
	"github.com/latchkey/latchkey/internal/storeerr"
)

// scanConsent reads one row of sqlschema.ConsentColumns. Its scopes are never nil.
func scanConsent(r pgx.Row) (*latchkey.Consent, error) {
	var o latchkey.Consent
	var c latchkey.Client
	dest := append([]any{&o.UserID, &o.ClientID, (*[]string)(&o.Scopes),
		&o.CreatedAt, &o.UpdatedAt}, clientFields(&c)...)
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	if o.Scopes == nil {
		o.Scopes = latchkey.Scopes{}
	}
	o.Client = &c
	return &o, nil
}

// SaveConsent stores c, replacing the scopes and UpdatedAt of the user's
// consent to that client if there is one, whose CreatedAt then stays; c's
// Scopes, CreatedAt and UpdatedAt are then set from the stored row. It
// writes audit in the same transaction. ENOTFOUND when the user or client
// does not exist.
func (db *DB) SaveConsent(ctx context.Context, c *latchkey.Consent, audit ...*latchkey.AuditRecord) error {
	const q = `INSERT INTO oauth_consents (user_id, client_id, scopes, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_id, client_id)
		DO UPDATE SET scopes = EXCLUDED.scopes, updated_at = EXCLUDED.updated_at
		RETURNING scopes, created_at, updated_at`
	var (
		scopes           []string
		created, updated time.Time
	)
	err := db.tx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, q,
			c.UserID, c.ClientID, storedScopes(c.Scopes), storedTime(c.CreatedAt), storedTime(c.UpdatedAt),
		).Scan(&scopes, &created, &updated)
		if pgCode(err) == codeForeignKeyViolation {
			return storeerr.NotFound(storeerr.MsgConsentOwnerNotFound, err)
		}
		if err != nil {
			return err
		}
		return insertAudit(ctx, tx, audit)
	})
	if err != nil {
		return wrap("save consent", err)
	}
	if scopes == nil {
		scopes = []string{}
	}
	c.Scopes, c.CreatedAt, c.UpdatedAt = scopes, created, updated
	return nil
}

// Consent returns the user's consent to the client, with the client.
// ENOTFOUND when there is none.
func (db *DB) Consent(ctx context.Context, userID, clientID int64) (*latchkey.Consent, error) {
	c, err := scanConsent(db.pool.QueryRow(ctx,
		`SELECT `+sqlschema.ConsentColumns+sqlschema.ConsentFrom+` WHERE o.user_id = $1 AND o.client_id = $2`,
		userID, clientID))
	if errors.Is(err, pgx.ErrNoRows) {
		err = storeerr.NotFound(storeerr.MsgConsentNotFound, err)
	}
	if err != nil {
		return nil, wrap("consent", err)
	}
	return c, nil
}

// Consents returns the user's consents with their clients, most recently
// updated first (ties by client id ascending).
func (db *DB) Consents(ctx context.Context, userID int64) ([]*latchkey.Consent, error) {
	rows, err := db.pool.Query(ctx,
		`SELECT `+sqlschema.ConsentColumns+sqlschema.ConsentFrom+` WHERE o.user_id = $1
		ORDER BY o.updated_at DESC, o.client_id ASC`, userID)
	if err != nil {
		return nil, wrap("consents", err)
	}
	consents, err := collect(rows, scanConsent)
	if err != nil {
		return nil, wrap("consents", err)
	}
	return consents, nil
}

// RevokeConsent, in one transaction, deletes the user's consent to the
// client, revokes at at every token of that user issued by that client,
// and deactivates every grant of that user and client, locking the tokens
// before the grants, as RevokeClient does. It returns the tokens it
// revoked, with their clients, by id. ENOTFOUND when there is no such
// consent, and then nothing changes.
//
// The DELETE comes first, and the transaction is READ COMMITTED whatever
// the server's default, for the sake of AuthorizationLive, which an issuer
// calls after it stored a token and which reads the consent FOR SHARE. The
// DELETE takes the consent row's lock, waiting for such a read that holds
// it: either the read waits for this transaction and then finds no
// consent, or the issuer's token was committed before the DELETE got the
// lock, and the statements after it, each with a snapshot of its own, see
// the token and revoke it. Under REPEATABLE READ they would share the
// DELETE's snapshot, taken before it waited, and could miss the token.
func (db *DB) RevokeConsent(ctx context.Context, userID, clientID int64, at time.Time, audit ...*latchkey.AuditRecord) ([]*latchkey.Token, error) {
	var tokens []*latchkey.Token
	err := db.tx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx,
			`DELETE FROM oauth_consents WHERE user_id = $1 AND client_id = $2`, userID, clientID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return storeerr.NotFound(storeerr.MsgConsentNotFound, nil)
		}
		// Every authorization the consent covered is marked revoked, so
		// that a token of one still being issued is refused even if the
		// person approves the application again at once.
		if err := markRevoked(ctx, tx, at, `user_id = $2 AND client_id = $3`, userID, clientID); err != nil {
			return err
		}
		tokens, err = revokeTokens(ctx, tx, at, latchkey.ReasonConsentWithdrawn,
			`t.user_id = $3 AND t.client_id = $4`, userID, clientID)
		if err != nil {
			return err
		}
		if err := deactivateGrants(ctx, tx, `user_id = $1 AND client_id = $2`, userID, clientID); err != nil {
			return err
		}
		return insertAudit(ctx, tx, latchkey.AuditWithTokens(audit, tokens))
	})
	if err != nil {
		return nil, wrap("revoke consent", err)
	}
	return tokens, nil
}

// EndUserAuthorizations ends every OAuth authorization of the user in one
// READ COMMITTED transaction, in RevokeConsent's order: consents deleted,
// authorizations marked revoked, the user's tokens of applications (with
// the tokens they made) revoked, grants deactivated.
func (db *DB) EndUserAuthorizations(ctx context.Context, userID int64, at time.Time, audit ...*latchkey.AuditRecord) ([]*latchkey.Token, error) {
	var tokens []*latchkey.Token
	err := db.tx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM oauth_consents WHERE user_id = $1`, userID); err != nil {
			return err
		}
		if err := markRevoked(ctx, tx, at, `user_id = $2`, userID); err != nil {
			return err
		}
		var err error
		tokens, err = revokeTokens(ctx, tx, at, latchkey.ReasonUserDisabled,
			`t.user_id = $3 AND t.client_id IN (SELECT id FROM oauth_clients WHERE NOT personal_access_client)`, userID)
		if err != nil {
			return err
		}
		if err := deactivateGrants(ctx, tx, `user_id = $1`, userID); err != nil {
			return err
		}
		return insertAudit(ctx, tx, latchkey.AuditWithTokens(audit, tokens))
	})
	if err != nil {
		return nil, wrap("end user authorizations", err)
	}
	return tokens, nil
}
