package postgres

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/latchkey/latchkey/internal/storetest"
)

// TestWrapNative gives wrap the errors pgx returns: they become the codes
// and sentences the SQLite store gives its own. It needs no database.
func TestWrapNative(t *testing.T) {
	storetest.Wrap(t, "postgres", wrap, storetest.NativeErrors{
		Unique:     &pgconn.PgError{Code: codeUniqueViolation, ConstraintName: "things_name_key"},
		ForeignKey: &pgconn.PgError{Code: codeForeignKeyViolation, ConstraintName: "things_parent_fkey"},
		NoRows:     pgx.ErrNoRows,
		Other:      &pgconn.PgError{Code: "42P01"}, // undefined_table
	})
}
