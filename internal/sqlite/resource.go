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

// CreateResource stores r and sets r.ID, and writes audit about it in
// the same transaction. ECONFLICT when a resource with r.URI exists.
func (db *DB) CreateResource(ctx context.Context, r *latchkey.Resource, audit ...*latchkey.AuditRecord) error {
	var id int64
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx,
			`INSERT INTO resources (uri, name, scopes, default_scopes, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
			r.URI, r.Name, sqlschema.EncodeScopeList(r.Scopes), sqlschema.EncodeScopeList(r.DefaultScopes), formatTime(r.CreatedAt)).Scan(&id)
		if isUnique(err) {
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
	r.CreatedAt = r.CreatedAt.UTC().Round(time.Microsecond)
	return nil
}

// scanResource reads one row of sqlschema.ResourceColumns.
func scanResource(row rowScanner) (*latchkey.Resource, error) {
	var r latchkey.Resource
	var scopes, defaults string
	if err := row.Scan(&r.ID, &r.URI, &r.Name, &scopes, &defaults, timeColumn{&r.CreatedAt}); err != nil {
		return nil, err
	}
	r.Scopes = sqlschema.DecodeScopeList(scopes)
	r.DefaultScopes = sqlschema.DecodeScopeList(defaults)
	return &r, nil
}

// Resource returns the resource whose URI is uri. ENOTFOUND when there
// is none.
func (db *DB) Resource(ctx context.Context, uri string) (*latchkey.Resource, error) {
	r, err := scanResource(db.queryRow(ctx,
		`SELECT `+sqlschema.ResourceColumns+` FROM resources r WHERE r.uri = ?`, uri))
	if errors.Is(err, sql.ErrNoRows) {
		err = storeerr.NotFound(storeerr.MsgResourceNotFound, err)
	}
	if err != nil {
		return nil, wrap("resource", err)
	}
	return r, nil
}

// Resources returns every resource, by id ascending.
func (db *DB) Resources(ctx context.Context) ([]*latchkey.Resource, error) {
	rs, err := collect(scanResource)(db.query(ctx,
		`SELECT `+sqlschema.ResourceColumns+` FROM resources r ORDER BY r.id`))
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
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		var uri string
		err := tx.QueryRowContext(ctx, `DELETE FROM resources WHERE id = ? RETURNING uri`, id).Scan(&uri)
		if errors.Is(err, sql.ErrNoRows) {
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
const resourceTokens = `t.audience = ? AND t.audience <> ''`
