// Package pgtest gives tests a PostgreSQL database of their own: the DSN
// from LATCHKEY_TEST_POSTGRES (or, when unset, the local server at
// 127.0.0.1:5432, database test, if it answers), and a fresh schema per
// test, dropped afterwards; or, for the many subtests of a suite, a
// migrated schema each from a Migrated, which resets a schema a subtest is
// done with for the next rather than migrating a new one. In CI (CI set) a
// missing database fails the test instead of skipping it.
package pgtest

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// LocalDSN is tried when LATCHKEY_TEST_POSTGRES is unset.
const LocalDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable&connect_timeout=2"

// DSN returns the database to test against, or skips (fails in CI).
func DSN(t testing.TB) string {
	t.Helper()
	if dsn := os.Getenv("LATCHKEY_TEST_POSTGRES"); dsn != "" {
		return dsn
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, LocalDSN); err == nil {
		conn.Close(ctx)
		return LocalDSN
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no PostgreSQL: set LATCHKEY_TEST_POSTGRES (in CI a suite that would skip must fail)")
	}
	t.Skip("no PostgreSQL at 127.0.0.1:5432: set LATCHKEY_TEST_POSTGRES to run this test")
	return ""
}

// Schema creates a schema of its own for t, drops it when t ends, and
// returns dsn with its search_path set to that schema.
func Schema(t testing.TB, dsn string) string {
	t.Helper()
	ctx := context.WithoutCancel(context.Background())
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("pgtest: connecting: %v", err)
	}
	schema := "lk_test_" + strings.ToLower(rand.Text()[:12])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		conn.Close(ctx)
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("pgtest: dropping %s: %v", schema, err)
		}
		conn.Close(ctx)
	})
	return WithParam(t, dsn, "search_path", schema)
}

// WithParam returns dsn, a URL or a keyword/value string, with the
// parameter key set to value, a plain word.
func WithParam(t testing.TB, dsn, key, value string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("pgtest: %v", err)
		}
		q := u.Query()
		q.Set(key, value)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " " + key + "=" + value
}
