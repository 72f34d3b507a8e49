package sqlite

import (
	"context"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// inDatabaseFile reports whether the user named username is in the
// database file at path itself, without its WAL: what a power loss would
// leave of a database whose WAL was never synced. It copies the file and
// opens the copy.
func inDatabaseFile(t *testing.T, path, username string) bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(cp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	db := openPath(t, cp)
	users, err := db.Users(t.Context(), latchkey.UserFilter{Search: username, Limit: 10})
	if err != nil {
		t.Fatalf("Users() in the copy = %v", err)
	}
	return len(users) == 1
}

// TestCheckpointEachTick: a commit reaches the database file itself at
// the store's next checkpoint, not only when the WAL is full.
func TestCheckpointEachTick(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	ticks := make(chan time.Time)
	done := make(chan struct{})
	db, err := openWith(t.Context(), path, ticks, func() { done <- struct{}{} })
	if err != nil {
		t.Fatalf("openWith() = %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	// checkpoint runs one and waits for it to end: none runs meanwhile.
	checkpoint := func() {
		ticks <- time.Now()
		<-done
	}
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	checkpoint() // the migrations, into the file

	u := &latchkey.User{Username: "alice", Email: "alice@example.com", Status: latchkey.StatusActive}
	if err := db.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	if inDatabaseFile(t, path, "alice") {
		t.Fatal("a user just created is in the database file before a checkpoint: the test shows nothing")
	}
	checkpoint()
	if !inDatabaseFile(t, path, "alice") {
		t.Error("after a tick, the user created is not in the database file: it is only in the WAL, which no checkpoint synced")
	}
}

// TestCheckpointBesideTheWriter: the store's checkpoint neither waits for
// the write connection nor for a write transaction under way on it, and
// copies what was committed before that transaction into the database
// file. A checkpoint that ran on the write connection would wait for it,
// which its count of waits shows, and hold up every write meanwhile.
func TestCheckpointBesideTheWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	ticks := make(chan time.Time)
	done := make(chan struct{}, 1)
	db, err := openWith(t.Context(), path, ticks, func() { done <- struct{}{} })
	if err != nil {
		t.Fatalf("openWith() = %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	u := &latchkey.User{Username: "alice", Email: "alice@example.com", Status: latchkey.StatusActive}
	if err := db.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}

	// Hold the write connection, in a write transaction with a write not
	// yet committed.
	conn, err := db.write.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(context.Background(), `ROLLBACK`)
	if _, err := conn.ExecContext(t.Context(),
		`INSERT INTO users (username, email, search_folded, created_at, updated_at)
		VALUES ('bob', 'bob@example.com', 'bob', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z')`); err != nil {
		t.Fatal(err)
	}

	waits := db.write.Stats().WaitCount
	ticks <- time.Now()
	for {
		select {
		case <-done:
			if !inDatabaseFile(t, path, "alice") {
				t.Error("after a checkpoint beside a write transaction, the user committed before it is not in the database file")
			}
			if inDatabaseFile(t, path, "bob") {
				t.Error("a write not committed is in the database file")
			}
			return
		default:
		}
		if db.write.Stats().WaitCount > waits {
			t.Fatal("the checkpoint waits for the write connection")
		}
		runtime.Gosched()
	}
}

// TestCloseStopsCheckpoints: Close ends the loop of checkpoints, and may
// be called twice.
func TestCloseStopsCheckpoints(t *testing.T) {
	ticks := make(chan time.Time)
	db, err := openWith(t.Context(), filepath.Join(t.TempDir(), "test.db"), ticks, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	select {
	case <-db.stopped:
	default:
		t.Error("the loop of checkpoints runs after Close")
	}
	select {
	case ticks <- time.Now():
		t.Error("a tick was taken after Close")
	default:
	}
	db.Close() // the connections are closed already; it must not block or panic
}

// walHeader returns the size of the WAL at path in pages and its
// checkpoint sequence number (bytes 12-15 of its header, big-endian),
// which moves each time the WAL starts again.
func walHeader(t *testing.T, path string) (pages int64, seq uint32) {
	t.Helper()
	f, err := os.Open(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [32]byte
	if _, err := io.ReadFull(f, b[:]); err != nil {
		t.Fatalf("reading the WAL's header: %v", err)
	}
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return (fi.Size() - 32) / (4096 + 24), uint32(b[12])<<24 | uint32(b[13])<<16 | uint32(b[14])<<8 | uint32(b[15])
}

// TestWALCutBackAfterALongRead: a read held open lets the WAL grow a
// quarter past walSizeLimit (no checkpoint may copy past it); once it ends and the WAL
// starts again, the writer cuts the file back to walSizeLimit, rather than
// keep it at its largest for as long as the server runs.
func TestWALCutBackAfterALongRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	db := openQuiet(t, path)
	u := groupUser(t, db)
	n := 0
	create := func() {
		t.Helper()
		tok := groupToken(n, u.ID)
		n++
		if err := db.CreateToken(t.Context(), tok, created(tok)); err != nil {
			t.Fatalf("CreateToken(%d) = %v", n, err)
		}
	}
	limit := int64(walSizeLimit) / (4096 + 24)

	read, err := db.read.BeginTx(t.Context(), &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var users int
	if err := read.QueryRowContext(t.Context(), `SELECT count(*) FROM users`).Scan(&users); err != nil {
		t.Fatal(err)
	}
	for pages, _ := walHeader(t, path); pages <= limit+limit/4; pages, _ = walHeader(t, path) {
		create()
	}
	if err := read.Rollback(); err != nil {
		t.Fatal(err)
	}
	// The writer's own checkpoint now copies it all, and the WAL starts
	// again at the next commit, which cuts it back.
	_, seq := walHeader(t, path)
	for _, s := walHeader(t, path); s == seq; _, s = walHeader(t, path) {
		create()
	}
	create()
	if pages, _ := walHeader(t, path); pages > limit {
		t.Errorf("after the long read ended and the WAL started again, it holds %d pages, want it cut back to %d", pages, limit)
	}
}

// TestWALStaysBounded: the checkpointer alone never lets the WAL start
// again under a writer that never stops; the writer's own checkpoint at
// walAutocheckpoint pages does. With no tick of the checkpointer at all,
// a stream of creates restarts the WAL (its header's checkpoint sequence
// moves) and keeps the file under walAutocheckpoint pages and the last
// commit's.
func TestWALStaysBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	db := openQuiet(t, path)
	u := groupUser(t, db)
	_, seq0 := walHeader(t, path)
	const creates = 1500 // each commits 15 pages or more: over twice walAutocheckpoint
	for i := range creates {
		tok := groupToken(i, u.ID)
		if err := db.CreateToken(t.Context(), tok, created(tok)); err != nil {
			t.Fatalf("CreateToken(%d) = %v", i, err)
		}
	}
	pages, seq := walHeader(t, path)
	if seq == seq0 {
		t.Errorf("after %d creates the WAL never started again (checkpoint sequence %d): it only grows", creates, seq)
	}
	if pages > walAutocheckpoint+100 {
		t.Errorf("the WAL holds %d pages after %d creates, want at most %d and the last commit's", pages, creates, walAutocheckpoint)
	}
}
