// Package sqlitetest gives tests SQLite databases already migrated.
//
// Migrating a new database is a dozen transactions, each written through
// to the disk; the suites that open a database per test spent most of
// their time doing it. Open instead copies a file migrated once per test
// binary, which is byte for byte what migrating would have made.
package sqlitetest

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/latchkey/latchkey/internal/sqlite"
)

// Open opens a new migrated database in a temporary directory of tb and
// closes it when tb ends.
func Open(tb testing.TB) *sqlite.DB {
	tb.Helper()
	path := Path(tb)
	db, err := sqlite.Open(tb.Context(), path)
	if err != nil {
		tb.Fatalf("sqlite.Open(%q) = %v", path, err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close() = %v", err)
		}
	})
	return db
}

// Path writes a new migrated database file in a temporary directory of
// tb and returns its path, for a test that opens it itself, or more than
// once.
func Path(tb testing.TB) string {
	tb.Helper()
	b, err := migrated()
	if err != nil {
		tb.Fatalf("migrating a template database: %v", err)
	}
	path := filepath.Join(tb.TempDir(), "latchkey.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// migrated returns the bytes of a database file migrated to the latest
// version, its journal folded into it.
var migrated = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "latchkey-template-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "template.db")
	ctx := context.Background()
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	// The last connection to close checkpoints the WAL into the file
	// and removes it.
	if err := db.Close(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		return nil, os.ErrExist
	}
	return os.ReadFile(path)
})
