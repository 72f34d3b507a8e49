package sqlite

import (
	"os"
	"path/filepath"
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
