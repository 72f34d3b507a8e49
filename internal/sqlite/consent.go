package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqlschema"
	"github.com/latchkey/latchkey/internal/storeerr"
)

// scanConsent reads one row of sqlschema.ConsentColumns.
func scanConsent(r rowScanner) (*latchkey.Consent, error) {
	var o latchkey.Consent
	var c latchkey.Client
	dest := append([]any{&o.UserID, &o.ClientID, scopesColumn{&o.Scopes},
		timeColumn{&o.CreatedAt}, timeColumn{&o.UpdatedAt}}, clientFields(&c)...)
	if err := r.Scan(dest...); err != nil {
		return nil, err
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
	scopes, err := formatScopes(c.Scopes)
	if err != nil {
		return wrap("save consent", err)
	}
	var saved latchkey.Consent
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx,
			`INSERT INTO oauth_consents (user_id, client_id, scopes, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (user_id, client_id)
			DO UPDATE SET scopes = excluded.scopes, updated_at = excluded.updated_at
			RETURNING scopes, created_at, updated_at`,
			c.UserID, c.ClientID, scopes, formatTime(c.CreatedAt), formatTime(c.UpdatedAt),
		).Scan(scopesColumn{&saved.Scopes}, timeColumn{&saved.CreatedAt}, timeColumn{&saved.UpdatedAt})
		if isForeignKey(err) {
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
	c.Scopes, c.CreatedAt, c.UpdatedAt = saved.Scopes, saved.CreatedAt, saved.UpdatedAt
	return nil
}

// Consent returns the user's consent to the client, with the client.
// ENOTFOUND when there is none.
func (db *DB) Consent(ctx context.Context, userID, clientID int64) (*latchkey.Consent, error) {
	c, err := scanConsent(db.queryRow(ctx,
		`SELECT `+sqlschema.ConsentColumns+sqlschema.ConsentFrom+` WHERE o.user_id = ? AND o.client_id = ?`,
		userID, clientID))
	if errors.Is(err, sql.ErrNoRows) {
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
	consents, err := collect(scanConsent)(db.query(ctx,
		`SELECT `+sqlschema.ConsentColumns+sqlschema.ConsentFrom+` WHERE o.user_id = ?
		ORDER BY o.updated_at DESC, o.client_id ASC`, userID))
	if err != nil {
		return nil, wrap("consents", err)
	}
	return consents, nil
}

// RevokeConsent, in one transaction, deletes the user's consent to the
// client, deactivates every grant of that user and client, and revokes at
// at every token of that user issued by that client, with the tokens
// those made. It returns the tokens it revoked, with their clients, and
// writes audit about them (latchkey.AuditWithTokens). ENOTFOUND when there is no such consent, and then
// nothing changes.
func (db *DB) RevokeConsent(ctx context.Context, userID, clientID int64, at time.Time, audit ...*latchkey.AuditRecord) ([]*latchkey.Token, error) {
	var tokens []*latchkey.Token
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`DELETE FROM oauth_consents WHERE user_id = ? AND client_id = ?`, userID, clientID)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return storeerr.NotFound(storeerr.MsgConsentNotFound, nil)
		}
		// Every authorization the consent covered ends, so that a token of
		// one still being issued is refused even if the person approves
		// the application again at once.
		if err := endGrants(ctx, tx, at, `user_id = ? AND client_id = ?`, userID, clientID); err != nil {
			return err
		}
		tokens, err = revokeTokens(ctx, tx, at, latchkey.ReasonConsentWithdrawn,
			`t.user_id = ? AND t.client_id = ?`, userID, clientID)
		if err != nil {
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
// transaction: consents deleted, grants ended, and the user's tokens of
// applications (with the tokens they made) revoked.
func (db *DB) EndUserAuthorizations(ctx context.Context, userID int64, at time.Time, audit ...*latchkey.AuditRecord) ([]*latchkey.Token, error) {
	var tokens []*latchkey.Token
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM oauth_consents WHERE user_id = ?`, userID); err != nil {
			return err
		}
		if err := endGrants(ctx, tx, at, `user_id = ?`, userID); err != nil {
			return err
		}
		var err error
		tokens, err = revokeTokens(ctx, tx, at, latchkey.ReasonUserDisabled,
			`t.user_id = ? AND t.client_id IN (SELECT id FROM oauth_clients WHERE personal_access_client = 0)`, userID)
		if err != nil {
			return err
		}
		return insertAudit(ctx, tx, latchkey.AuditWithTokens(audit, tokens))
	})
	if err != nil {
		return nil, wrap("end user authorizations", err)
	}
	return tokens, nil
}
