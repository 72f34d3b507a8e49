package postgres

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqlschema"
	"github.com/latchkey/latchkey/internal/storeerr"
)

// CreateClient stores c and sets c.ID, and writes audit about it in the
// same transaction. ENOTFOUND when c.UserID names no user; ECONFLICT when
// another client has c's MetadataURL.
func (db *DB) CreateClient(ctx context.Context, c *latchkey.Client, audit ...*latchkey.AuditRecord) error {
	const q = `INSERT INTO oauth_clients (user_id, name, secret, provider, redirect,
		personal_access_client, password_client, revoked, created_at, updated_at, default_scopes, self_registered,
		metadata_url)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		RETURNING id`
	var id int64
	err := db.tx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, q,
			c.UserID, c.Name, nullText(c.SecretHash), c.Provider, c.Redirect,
			c.PersonalAccessClient, c.PasswordClient, c.Revoked,
			storedTime(c.CreatedAt), storedTime(c.UpdatedAt), sqlschema.EncodeScopeList(c.DefaultScopes), c.SelfRegistered,
			nullText(c.MetadataURL),
		).Scan(&id)
		if err != nil {
			return err
		}
		for _, r := range audit {
			r.SubjectID = strconv.FormatInt(id, 10)
		}
		return insertAudit(ctx, tx, audit)
	})
	switch {
	case pgCode(err) == codeForeignKeyViolation:
		err = storeerr.NotFound(storeerr.MsgClientUserNotFound, err)
	case pgCode(err) == codeUniqueViolation && constraint(err) == "oauth_clients_metadata_url":
		err = storeerr.Conflict(storeerr.MsgClientMetadataExists, err)
	}
	if err != nil {
		return wrap("create client", err)
	}
	c.ID = id
	return nil
}

// Client returns the client with that id, revoked or not. ENOTFOUND when
// there is none.
func (db *DB) Client(ctx context.Context, id int64) (*latchkey.Client, error) {
	c, err := scanClient(db.pool.QueryRow(ctx,
		`SELECT `+sqlschema.ClientColumns+` FROM oauth_clients c WHERE c.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		err = storeerr.NotFound(storeerr.MsgClientNotFound, err)
	}
	if err != nil {
		return nil, wrap("client", err)
	}
	return c, nil
}

// ClientByMetadataURL returns the client whose metadata_url is url,
// revoked or not. ENOTFOUND when there is none.
func (db *DB) ClientByMetadataURL(ctx context.Context, url string) (*latchkey.Client, error) {
	c, err := scanClient(db.pool.QueryRow(ctx,
		`SELECT `+sqlschema.ClientColumns+` FROM oauth_clients c WHERE c.metadata_url = $1`, url))
	if errors.Is(err, pgx.ErrNoRows) {
		err = storeerr.NotFound(storeerr.MsgClientNotFound, err)
	}
	if err != nil {
		return nil, wrap("client by metadata URL", err)
	}
	return c, nil
}

// UpdateClient stores c's name, redirect URIs, default scopes and
// updated_at as the client c.ID's, and writes audit about it in the same
// transaction. ENOTFOUND when there is no such client.
func (db *DB) UpdateClient(ctx context.Context, c *latchkey.Client, audit ...*latchkey.AuditRecord) error {
	err := db.tx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE oauth_clients SET name = $1, redirect = $2, default_scopes = $3, updated_at = $4
			WHERE id = $5`, c.Name, c.Redirect, sqlschema.EncodeScopeList(c.DefaultScopes), storedTime(c.UpdatedAt), c.ID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return storeerr.NotFound(storeerr.MsgClientNotFound, pgx.ErrNoRows)
		}
		for _, r := range audit {
			r.SubjectID = strconv.FormatInt(c.ID, 10)
		}
		return insertAudit(ctx, tx, audit)
	})
	if err != nil {
		return wrap("update client", err)
	}
	return nil
}

// Clients returns every client, by id ascending.
func (db *DB) Clients(ctx context.Context) ([]*latchkey.Client, error) {
	rows, err := db.pool.Query(ctx,
		`SELECT `+sqlschema.ClientColumns+` FROM oauth_clients c ORDER BY c.id`)
	if err != nil {
		return nil, wrap("clients", err)
	}
	clients, err := collect(rows, scanClient)
	if err != nil {
		return nil, wrap("clients", err)
	}
	return clients, nil
}

// RevokeClient marks the client and every token it issued revoked at at,
// with the tokens those made, and deactivates every grant of the client,
// in one transaction that locks the client's row first, then the
// tokens', then the grants'. The client and each token that is revoked
// already keep their UpdatedAt; a token or grant the client was given
// after it was revoked is revoked by the next call. It returns the tokens
// it revoked. ENOTFOUND when there is no such client.
func (db *DB) RevokeClient(ctx context.Context, id int64, at time.Time, audit ...*latchkey.AuditRecord) ([]*latchkey.Token, error) {
	ts := storedTime(at)
	var tokens []*latchkey.Token
	err := db.tx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		// FOR NO KEY UPDATE, unlike FOR UPDATE, lets tokens of the client
		// be created meanwhile.
		var revoked bool
		err := tx.QueryRow(ctx,
			`SELECT revoked FROM oauth_clients WHERE id = $1 FOR NO KEY UPDATE`, id).Scan(&revoked)
		if errors.Is(err, pgx.ErrNoRows) {
			return storeerr.NotFound(storeerr.MsgClientNotFound, err)
		}
		if err != nil {
			return err
		}
		if !revoked {
			_, err = tx.Exec(ctx,
				`UPDATE oauth_clients SET revoked = true, updated_at = $1 WHERE id = $2`, ts, id)
			if err != nil {
				return err
			}
		}
		tokens, err = revokeTokens(ctx, tx, at, latchkey.ReasonClientRevoked, `t.client_id = $3`, id)
		if err != nil {
			return err
		}
		if err := deactivateGrants(ctx, tx, `client_id = $1`, id); err != nil {
			return err
		}
		return insertAudit(ctx, tx, latchkey.AuditWithDescendants(audit, tokens))
	})
	if err != nil {
		return nil, wrap("revoke client", err)
	}
	return tokens, nil
}

// PruneRegisteredClients deletes the self-registered clients created
// before before that have no token, with their grants and consents, in
// one transaction, and says how many clients it deleted. It locks the
// candidates first, so that no token of one can be stored between the
// check for tokens and the delete: such a token's insert waits, and then
// finds its client gone.
func (db *DB) PruneRegisteredClients(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := db.tx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx,
			`SELECT id FROM oauth_clients WHERE self_registered AND created_at < $1 FOR UPDATE`,
			storedTime(before))
		if err != nil {
			return err
		}
		locked, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil || len(locked) == 0 {
			return err
		}
		// Read Committed: this statement sees every token committed
		// before the lock was taken.
		rows, err = tx.Query(ctx,
			`SELECT c.id FROM oauth_clients c WHERE c.id = ANY($1)
			AND NOT EXISTS (SELECT 1 FROM oauth_access_tokens t WHERE t.client_id = c.id)`, locked)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil || len(ids) == 0 {
			return err
		}
		for _, q := range []string{
			`DELETE FROM oauth_grants WHERE client_id = ANY($1)`,
			`DELETE FROM oauth_consents WHERE client_id = ANY($1)`,
		} {
			if _, err := tx.Exec(ctx, q, ids); err != nil {
				return err
			}
		}
		tag, err := tx.Exec(ctx, `DELETE FROM oauth_clients WHERE id = ANY($1)`, ids)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, wrap("prune registered clients", err)
	}
	return n, nil
}
