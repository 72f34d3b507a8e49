package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqlschema"
	"github.com/latchkey/latchkey/internal/storeerr"
)

// AddSigningKey makes k the signing key: in one transaction, it retires the
// current signing key at k.CreatedAt, if there is one, and stores k with no
// RetiredAt, whatever k.RetiredAt says. The transaction first locks the
// table against other writers (reads go on), so that replicas that rotate
// at once take turns: each retires the key the previous one stored.
// ECONFLICT when a key with k.ID exists, and then nothing changes.
func (db *DB) AddSigningKey(ctx context.Context, k *latchkey.SigningKey, audit ...*latchkey.AuditRecord) error {
	created := storedTime(k.CreatedAt)
	err := db.tx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx,
			`UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL`, created)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx,
			`INSERT INTO signing_keys (id, algorithm, public_key, sealed_private_key, created_at)
			VALUES ($1, $2, $3, $4, $5)`,
			k.ID, k.Algorithm, blob(k.PublicKey), blob(k.SealedPrivateKey), created)
		if pgCode(err) == codeUniqueViolation && constraint(err) == "signing_keys_pkey" {
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
			WHERE t.key_id = k.id AND NOT t.revoked
				AND (t.expires_at IS NULL OR t.expires_at > $1))
		ORDER BY k.created_at DESC, k.id DESC`
	keys, err := db.keys(ctx, q, storedTime(now))
	if err != nil {
		return nil, wrap("verifying keys", err)
	}
	return keys, nil
}

// keys runs a query of sqlschema.KeyColumns.
func (db *DB) keys(ctx context.Context, query string, args ...any) ([]*latchkey.SigningKey, error) {
	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanKey)
}
