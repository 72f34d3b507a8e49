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
			`INSERT INTO resources (uri, name, scopes, created_at) VALUES (?, ?, ?, ?) RETURNING id`,
			r.URI, r.Name, sqlschema.EncodeScopeList(r.Scopes), formatTime(r.CreatedAt)).Scan(&id)
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
	var scopes string
	if err := row.Scan(&r.ID, &r.URI, &r.Name, &scopes, timeColumn{&r.CreatedAt}); err != nil {
		return nil, err
	}
	r.Scopes = sqlschema.DecodeScopeList(scopes)
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

// DeleteResource deletes the resource and writes audit, in one
// transaction. ENOTFOUND when there is none.
func (db *DB) DeleteResource(ctx context.Context, id int64, audit ...*latchkey.AuditRecord) error {
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM resources WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return storeerr.NotFound(storeerr.MsgResourceNotFound, nil)
		}
		return insertAudit(ctx, tx, audit)
	})
	if err != nil {
		return wrap("delete resource", err)
	}
	return nil
}
