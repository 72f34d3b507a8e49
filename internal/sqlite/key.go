package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqlschema"
	"github.com/latchkey/latchkey/internal/storeerr"
)

// AddSigningKey makes k the signing key: in one transaction, it retires the
// current signing key at k.CreatedAt, if there is one, and stores k with no
// RetiredAt, whatever k.RetiredAt says. ECONFLICT when a key with k.ID
// exists, and then nothing changes.
func (db *DB) AddSigningKey(ctx context.Context, k *latchkey.SigningKey, audit ...*latchkey.AuditRecord) error {
	created := formatTime(k.CreatedAt)
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL`, created)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx,
			`INSERT INTO signing_keys (id, algorithm, public_key, sealed_private_key, created_at)
			VALUES (?, ?, ?, ?, ?)`,
			k.ID, k.Algorithm, blob(k.PublicKey), blob(k.SealedPrivateKey), created)
		if isUnique(err) {
			return storeerr.Conflict(storeerr.MsgKeyExists, err)
		}
		if err != nil {
			return err
		}
		return insertAudit(ctx, tx, audit)
	})
	if err != nil {
		return wrap("add signing key", err)
	}
	return nil
}

// blob returns b, or an empty slice for nil, which the driver would store
// as NULL.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// SigningKeys returns every key, newest first.
func (db *DB) SigningKeys(ctx context.Context) ([]*latchkey.SigningKey, error) {
	keys, err := db.keys(ctx, `SELECT `+sqlschema.KeyColumns+` FROM signing_keys k
		ORDER BY k.created_at DESC, k.id DESC`)
	if err != nil {
		return nil, wrap("signing keys", err)
	}
	return keys, nil
}

// VerifyingKeys returns the keys that still verify at now: the signing key,
// and each retired key that signed a token that is neither revoked nor
// expired at now (a token without an expiry never expires). Newest first.
func (db *DB) VerifyingKeys(ctx context.Context, now time.Time) ([]*latchkey.SigningKey, error) {
	const q = `SELECT ` + sqlschema.KeyColumns + ` FROM signing_keys k
		WHERE k.retired_at IS NULL OR EXISTS (
			SELECT 1 FROM oauth_access_tokens t
			WHERE t.key_id = k.id AND t.revoked = 0
				AND (t.expires_at IS NULL OR t.expires_at > ?))
		ORDER BY k.created_at DESC, k.id DESC`
	keys, err := db.keys(ctx, q, formatTime(now))
	if err != nil {
		return nil, wrap("verifying keys", err)
	}
	return keys, nil
}

// keys runs a query of sqlschema.KeyColumns.
func (db *DB) keys(ctx context.Context, query string, args ...any) ([]*latchkey.SigningKey, error) {
	return collect(scanKey)(db.query(ctx, query, args...))
}
