package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"time"

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
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING id`
	var userID, provider any
	if c.UserID != nil {
		userID = *c.UserID
	}
	if c.Provider != nil {
		provider = *c.Provider
	}
	var id int64
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, q,
			userID, c.Name, nullText(c.SecretHash), provider, c.Redirect,
			c.PersonalAccessClient, c.PasswordClient, c.Revoked,
			formatTime(c.CreatedAt), formatTime(c.UpdatedAt), sqlschema.EncodeScopeList(c.DefaultScopes), c.SelfRegistered,
			nullText(c.MetadataURL),
		).Scan(&id)
		if isForeignKey(err) {
			return storeerr.NotFound(storeerr.MsgClientUserNotFound, err)
		}
		if isUnique(err) {
			return storeerr.Conflict(storeerr.MsgClientMetadataExists, err)
		}
		if err != nil {
			return err
		}
		for _, r := range audit {
			r.SubjectID = strconv.FormatInt(id, 10)
		}
		return insertAudit(ctx, tx, audit)
	})
	if err != nil {
		return wrap("create client", err)
	}
	c.ID = id
	return nil
}

// Client returns the client with that id, revoked or not. ENOTFOUND when
// there is none.
func (db *DB) Client(ctx context.Context, id int64) (*latchkey.Client, error) {
	c, err := scanClient(db.queryRow(ctx,
		`SELECT `+sqlschema.ClientColumns+` FROM oauth_clients c WHERE c.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
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
	c, err := scanClient(db.queryRow(ctx,
		`SELECT `+sqlschema.ClientColumns+` FROM oauth_clients c WHERE c.metadata_url = ?`, url))
	if errors.Is(err, sql.ErrNoRows) {
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
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE oauth_clients SET name = ?, redirect = ?, default_scopes = ?, updated_at = ?
			WHERE id = ?`, c.Name, c.Redirect, sqlschema.EncodeScopeList(c.DefaultScopes), formatTime(c.UpdatedAt), c.ID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = storeerr.NotFound(storeerr.MsgClientNotFound, sql.ErrNoRows)
			}
			return err
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
	clients, err := collect(scanClient)(db.query(ctx,
		`SELECT `+sqlschema.ClientColumns+` FROM oauth_clients c ORDER BY c.id`))
	if err != nil {
		return nil, wrap("clients", err)
	}
	return clients, nil
}

// RevokeClient marks the client and every token it issued revoked at at,
// with the tokens those made, and deactivates every grant of the client,
// in one transaction. The client and each token that is revoked already
// keep their UpdatedAt; a token or grant the client was given after it
// was revoked is revoked by the next call. It returns the tokens it
// revoked. ENOTFOUND when there is no such client.
func (db *DB) RevokeClient(ctx context.Context, id int64, at time.Time, audit ...*latchkey.AuditRecord) ([]*latchkey.Token, error) {
	var tokens []*latchkey.Token
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		var exists bool
		err := tx.QueryRowContext(ctx,
			`SELECT EXISTS (SELECT 1 FROM oauth_clients WHERE id = ?)`, id).Scan(&exists)
		if err != nil {
			return err
		}
		if !exists {
			return storeerr.NotFound(storeerr.MsgClientNotFound, nil)
		}
		_, err = tx.ExecContext(ctx,
			`UPDATE oauth_clients SET revoked = 1, updated_at = ? WHERE id = ? AND revoked = 0`,
			formatTime(at), id)
		if err != nil {
			return err
		}
		tokens, err = revokeTokens(ctx, tx, at, latchkey.ReasonClientRevoked, `t.client_id = ?`, id)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx,
			`UPDATE oauth_grants SET active = 0 WHERE client_id = ? AND active = 1`, id)
		if err != nil {
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
// one transaction, and says how many clients it deleted.
func (db *DB) PruneRegisteredClients(ctx context.Context, before time.Time) (int64, error) {
	const stale = `SELECT c.id FROM oauth_clients c
		WHERE c.self_registered = 1 AND c.created_at < ?
		AND NOT EXISTS (SELECT 1 FROM oauth_access_tokens t WHERE t.client_id = c.id)`
	var n int64
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{
			`DELETE FROM oauth_grants WHERE client_id IN (` + stale + `)`,
			`DELETE FROM oauth_consents WHERE client_id IN (` + stale + `)`,
		} {
			if _, err := tx.ExecContext(ctx, q, formatTime(before)); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM oauth_clients WHERE id IN (`+stale+`)`, formatTime(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, wrap("prune registered clients", err)
	}
	return n, nil
}
