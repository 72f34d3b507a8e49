package postgres

import (
	"strings"
	"testing"
)

// TestPingWhenWritesFail: Ping says no when the database answers reads but
// refuses writes, from the start (a read-only replica or session) or from
// some moment on (a failover to a standby turns the session read-only),
// and writes nothing itself.
func TestPingWhenWritesFail(t *testing.T) {
	dsn := newSchema(t)
	db := openDSN(t, dsn, Options{MaxConns: 1})
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(t.Context()); err != nil {
		t.Fatalf("Ping() on a writable database = %v, want nil", err)
	}

	t.Run("from the start", func(t *testing.T) {
		ro := openDSN(t, withParam(t, dsn, "default_transaction_read_only", "on"), Options{})
		err := ro.Ping(t.Context())
		if err == nil || !strings.Contains(err.Error(), "read-only") {
			t.Errorf("Ping() on a read-only session = %v, want an error saying read-only", err)
		}
	})
	t.Run("after start", func(t *testing.T) {
		// The pool's one connection turns read-only.
		if _, err := db.pool.Exec(t.Context(), `SET default_transaction_read_only = on`); err != nil {
			t.Fatal(err)
		}
		err := db.Ping(t.Context())
		if err == nil || !strings.Contains(err.Error(), "read-only") {
			t.Errorf("Ping() once writes fail = %v, want an error saying read-only", err)
		}
		if _, err := db.pool.Exec(t.Context(), `SET default_transaction_read_only = off`); err != nil {
			t.Fatal(err)
		}
		if err := db.Ping(t.Context()); err != nil {
			t.Errorf("Ping() once writable again = %v, want nil", err)
		}
	})
	t.Run("writes nothing", func(t *testing.T) {
		// The probe alone in a transaction: it is given no transaction id,
		// which any row it wrote would need.
		tx, err := db.pool.Begin(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(t.Context())
		if _, err := tx.Exec(t.Context(), writeProbe); err != nil {
			t.Fatal(err)
		}
		var unassigned bool
		if err := tx.QueryRow(t.Context(), `SELECT pg_current_xact_id_if_assigned() IS NULL`).Scan(&unassigned); err != nil {
			t.Fatal(err)
		}
		if !unassigned {
			t.Error("the write probe was given a transaction id: it wrote something")
		}
	})
}
