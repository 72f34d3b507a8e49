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

// CreateResource stores r and sets r.ID, and writes audit about it in
// the same transaction. ECONFLICT when a resource with r.URI exists.
func (db *DB) CreateResource(ctx context.Context, r *latchkey.Resource, audit ...*latchkey.AuditRecord) error {
	var id int64
	err := db.tx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx,
			`INSERT INTO resources (uri, name, scopes, default_scopes, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			r.URI, r.Name, sqlschema.EncodeScopeList(r.Scopes), sqlschema.EncodeScopeList(r.DefaultScopes), storedTime(r.CreatedAt)).Scan(&id)
		if pgCode(err) == codeUniqueViolation && constraint(err) == "resources_uri_key" {
			return storeerr.Conflict(storeerr.MsgResourceExists, err)
		}
		if err != nil {
			return err
		}
		for _, a := range audit {
			a.SubjectID = strconv.FormatInt(id, 10)
		}
		return insertAudit(ctx, tx, audit)
	})
	if err != nil {
		return wrap("create resource", err)
	}
	r.ID = id
	r.CreatedAt = storedTime(r.CreatedAt).UTC()
	return nil
}

// scanResource reads one row of sqlschema.ResourceColumns.
func scanResource(row pgx.Row) (*latchkey.Resource, error) {
	var r latchkey.Resource
	var scopes, defaults string
	if err := row.Scan(&r.ID, &r.URI, &r.Name, &scopes, &defaults, &r.CreatedAt); err != nil {
		return nil, err
	}
	r.Scopes = sqlschema.DecodeScopeList(scopes)
	r.DefaultScopes = sqlschema.DecodeScopeList(defaults)
	r.CreatedAt = r.CreatedAt.UTC()
	return &r, nil
}

// Resource returns the resource whose URI is uri. ENOTFOUND when there
// is none.
func (db *DB) Resource(ctx context.Context, uri string) (*latchkey.Resource, error) {
	if !storable(uri) {
		return nil, wrap("resource", storeerr.NotFound(storeerr.MsgResourceNotFound, nil))
	}
	r, err := scanResource(db.pool.QueryRow(ctx,
		`SELECT `+sqlschema.ResourceColumns+` FROM resources r WHERE r.uri = $1`, uri))
	if errors.Is(err, pgx.ErrNoRows) {
		err = storeerr.NotFound(storeerr.MsgResourceNotFound, err)
	}
	if err != nil {
		return nil, wrap("resource", err)
	}
	return r, nil
}

// Resources returns every resource, by id ascending.
func (db *DB) Resources(ctx context.Context) ([]*latchkey.Resource, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+sqlschema.ResourceColumns+` FROM resources r ORDER BY r.id`)
	if err != nil {
		return nil, wrap("resources", err)
	}
	rs, err := collect(rows, scanResource)
	if err != nil {
		return nil, wrap("resources", err)
	}
	return rs, nil
}

// DeleteResource deletes the resource, revokes the tokens issued for it
// and those they made, and writes audit, in one transaction. ENOTFOUND
// when there is none.
func (db *DB) DeleteResource(ctx context.Context, id int64, at time.Time, audit ...*latchkey.AuditRecord) ([]*latchkey.Token, error) {
	var tokens []*latchkey.Token
	err := db.tx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var uri string
		err := tx.QueryRow(ctx, `DELETE FROM resources WHERE id = $1 RETURNING uri`, id).Scan(&uri)
		if errors.Is(err, pgx.ErrNoRows) {
			return storeerr.NotFound(storeerr.MsgResourceNotFound, nil)
		}
		if err != nil {
			return err
		}
		tokens, err = revokeTokens(ctx, tx, at, latchkey.ReasonResourceDeleted, resourceTokens, uri)
		if err != nil {
			return err
		}
		return insertAudit(ctx, tx, latchkey.AuditWithDescendants(audit, tokens))
	})
	if err != nil {
		return nil, wrap("delete resource", err)
	}
	return tokens, nil
}

// resourceTokens selects the tokens issued for the resource of the URI
// given as the query's argument. Its second term, which the first
// implies, lets the query read the partial index
// oauth_access_tokens_audience: the planner cannot tell that the argument
// is not the empty string.
const resourceTokens = `t.audience = $3 AND t.audience <> ''`
