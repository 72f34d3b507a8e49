package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/storetest"
)

// open opens and migrates a new database in a temporary directory.
func open(tb testing.TB) *DB {
	tb.Helper()
	return openPath(tb, filepath.Join(tb.TempDir(), "test.db"))
}

// openPath opens and migrates the database at path, and closes it when
// the test ends.
func openPath(tb testing.TB, path string) *DB {
	tb.Helper()
	db, err := Open(tb.Context(), path)
	if err != nil {
		tb.Fatalf("Open(%q) = %v", path, err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close() = %v", err)
		}
	})
	if err := db.Migrate(tb.Context()); err != nil {
		tb.Fatalf("Migrate() = %v", err)
	}
	return db
}

// openQuiet opens and migrates the database at path with a checkpointer
// that never ticks, for the tests that read the database's files: only
// the writer's own checkpoint at walAutocheckpoint pages copies the WAL.
func openQuiet(t *testing.T, path string) *DB {
	t.Helper()
	db, err := openWith(t.Context(), path, make(chan time.Time), nil)
	if err != nil {
		t.Fatalf("openWith() = %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return db
}

func BenchmarkStore(b *testing.B) {
	storetest.Benchmark(b, func(b *testing.B) latchkey.Store { return open(b) })
}

// pragma returns the value of a pragma on a connection of h.
func pragma(t *testing.T, h *sql.DB, name string) string {
	t.Helper()
	var v string
	if err := h.QueryRowContext(t.Context(), "PRAGMA "+name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

func TestPragmas(t *testing.T) {
	db := open(t)
	want := map[string]string{
		"journal_mode": "wal",
		"foreign_keys": "1",
		"busy_timeout": "5000",
		"synchronous":  "1", // NORMAL
	}
	for name, h := range map[string]*sql.DB{"write": db.write, "read": db.read} {
		for p, w := range want {
			if got := pragma(t, h, p); got != w {
				t.Errorf("%s connection: PRAGMA %s = %q, want %q", name, p, got, w)
			}
		}
	}
	if got := pragma(t, db.read, "query_only"); got != "1" {
		t.Errorf("read connection: PRAGMA query_only = %q, want 1", got)
	}
	if got := pragma(t, db.write, "query_only"); got != "0" {
		t.Errorf("write connection: PRAGMA query_only = %q, want 0", got)
	}
	// The savepoints of a group commit journal in memory.
	if got := pragma(t, db.write, "temp_store"); got != "2" {
		t.Errorf("write connection: PRAGMA temp_store = %q, want 2 (MEMORY)", got)
	}
	if got, want := pragma(t, db.write, "wal_autocheckpoint"), strconv.Itoa(walAutocheckpoint); got != want {
		t.Errorf("write connection: PRAGMA wal_autocheckpoint = %q, want %s", got, want)
	}
}

func TestReadPoolCannotWrite(t *testing.T) {
	db := open(t)
	_, err := db.read.ExecContext(t.Context(), `DELETE FROM oauth_clients`)
	if err == nil {
		t.Errorf("DELETE on a read connection = nil, want an error")
	}
}

func TestOpen(t *testing.T) {
	t.Run("CreatesFile", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "new.db")
		db, err := Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open(%q) = %v", path, err)
		}
		defer db.Close()
		if _, err := os.Stat(path); err != nil {
			t.Errorf("after Open(%q), Stat = %v, want the file", path, err)
		}
	})

	t.Run("OddName", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "a?b#c%20d&_txlock=x.db")
		db := openPath(t, path)
		if err := db.Ping(t.Context()); err != nil {
			t.Errorf("Ping() = %v", err)
		}
		if _, err := os.Stat(path); err != nil {
			t.Errorf("after Open(%q), Stat = %v, want the file", path, err)
		}
	})

	t.Run("MissingDirectory", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "missing", "test.db")
		db, err := Open(t.Context(), path)
		if err == nil {
			db.Close()
			t.Fatalf("Open(%q) = nil error, want an error", path)
		}
	})

	t.Run("EmptyPath", func(t *testing.T) {
		if db, err := Open(t.Context(), ""); err == nil {
			db.Close()
			t.Errorf(`Open("") = nil error, want an error`)
		}
	})

	t.Run("NotADatabase", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "text.db")
		if err := os.WriteFile(path, []byte(strings.Repeat("not a database\n", 100)), 0o600); err != nil {
			t.Fatal(err)
		}
		db, err := Open(t.Context(), path)
		if err == nil {
			err = db.Migrate(t.Context())
			db.Close()
		}
		if err == nil {
			t.Errorf("Open and Migrate of a text file = nil error, want an error")
		}
	})
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate() = %v", err)
	}
	u := &latchkey.User{Username: "alice", Email: "alice@example.com", Status: latchkey.StatusActive,
		CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := db.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser() = %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}

	db = openPath(t, path)
	got, err := db.UserByLogin(t.Context(), "alice")
	if err != nil {
		t.Fatalf("after reopening, UserByLogin() = %v", err)
	}
	if got.ID != u.ID {
		t.Errorf("after reopening, UserByLogin().ID = %d, want %d", got.ID, u.ID)
	}
}

func TestMigrationsRecorded(t *testing.T) {
	db := open(t)
	ms, err := migrations()
	if err != nil {
		t.Fatalf("migrations() = %v", err)
	}
	if len(ms) == 0 || ms[0].Version != 1 || ms[0].Name != "0001_init" {
		t.Fatalf("migrations() = %v, want 0001_init first", ms)
	}
	var want, got []string
	for _, m := range ms {
		want = append(want, fmt.Sprint(m.Version, " ", m.Name))
	}
	rows, err := db.read.QueryContext(t.Context(), `SELECT version, name FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var v int
		var name string
		if err := rows.Scan(&v, &name); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprint(v, " ", name))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("schema_migrations mismatch (-want +got):\n%s", diff)
	}
}

// TestSeveralProcesses opens one file twice, as two server processes would,
// and migrates and writes through both at once: the busy timeout and
// immediate transactions make every call succeed.
func TestSeveralProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	var handles []*DB
	for range 2 {
		db, err := Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open() = %v", err)
		}
		t.Cleanup(func() { db.Close() })
		handles = append(handles, db)
	}

	var wg sync.WaitGroup
	for _, db := range handles {
		wg.Go(func() {
			if err := db.Migrate(t.Context()); err != nil {
				t.Errorf("concurrent Migrate() = %v", err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	u := &latchkey.User{Username: "alice", Email: "alice@example.com", Status: latchkey.StatusActive}
	if err := handles[0].CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser() = %v", err)
	}
	const n = 40
	for i := range n {
		db := handles[i%2]
		wg.Go(func() {
			tok := &latchkey.Token{ID: fmt.Sprintf("%080x", i), UserID: u.ID, ClientID: latchkey.PersonalAccessClientID, Name: "t"}
			if err := db.CreateToken(t.Context(), tok); err != nil {
				t.Errorf("CreateToken() = %v", err)
			}
		})
	}
	wg.Wait()
	_, total, err := handles[1].Tokens(t.Context(), latchkey.TokenFilter{UserID: u.ID})
	if err != nil {
		t.Fatalf("Tokens() = %v", err)
	}
	if total != n {
		t.Errorf("Tokens() total = %d, want %d", total, n)
	}
}

func TestStoredTimes(t *testing.T) {
	db := open(t)
	at := time.Date(2026, 3, 1, 17, 45, 10, 123456789, time.FixedZone("CET", 3600))
	u := &latchkey.User{Username: "alice", Email: "alice@example.com", Status: latchkey.StatusActive,
		CreatedAt: at, UpdatedAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	if err := db.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser() = %v", err)
	}
	var created, updated string
	err := db.read.QueryRowContext(t.Context(),
		`SELECT created_at, updated_at FROM users WHERE id = ?`, u.ID).Scan(&created, &updated)
	if err != nil {
		t.Fatal(err)
	}
	if want := "2026-03-01T16:45:10.123457Z"; created != want {
		t.Errorf("stored created_at = %q, want %q", created, want)
	}
	if want := "2026-03-01T00:00:00.000000Z"; updated != want {
		t.Errorf("stored updated_at = %q, want %q", updated, want)
	}
	got, err := db.User(t.Context(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := at.Round(time.Microsecond); !got.CreatedAt.Equal(want) {
		t.Errorf("User().CreatedAt = %v, want %v", got.CreatedAt, want)
	}
}

func TestErrors(t *testing.T) {
	storetest.Errors(t, "sqlite", func(t *testing.T) latchkey.Store { return open(t) })
}

func TestCanceledContext(t *testing.T) {
	db := open(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := db.User(ctx, 1)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("User(canceled context) = %v, want context.Canceled", err)
	}
	if latchkey.ErrorCode(err) != latchkey.EINTERNAL {
		t.Errorf("ErrorCode(%v) = %q, want %q", err, latchkey.ErrorCode(err), latchkey.EINTERNAL)
	}
}

func TestPingAfterClose(t *testing.T) {
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if err := db.Ping(t.Context()); err == nil {
		t.Errorf("Ping() after Close = nil, want an error")
	}
}
