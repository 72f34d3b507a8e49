package postgres

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/storetest"
)

// TestBroadcaster runs the Broadcaster suite: each database is a schema
// of its own, and a subscriber is disconnected by terminating its LISTEN
// connection.
func TestBroadcaster(t *testing.T) {
	testDSN(t) // skip, or fail in CI, once rather than in every subtest
	storetest.Broadcaster(t, storetest.BroadcasterHarness{
		New: func(t *testing.T) func() latchkey.Broadcaster {
			dsn := newSchema(t)
			if err := openDSN(t, dsn, Options{}).Migrate(t.Context()); err != nil {
				t.Fatalf("Migrate() = %v", err)
			}
			return func() latchkey.Broadcaster { return openDSN(t, dsn, Options{}) }
		},
		Disconnect: func(t *testing.T, sub latchkey.Broadcaster) { terminateListener(t, sub.(*DB)) },
	})
}

// terminateListener terminates the connection on which db's subscriber
// listens.
func terminateListener(t *testing.T, db *DB) {
	t.Helper()
	ch, err := db.channel(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var killed int
	err = db.pool.QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query = $1`,
		"LISTEN "+pgx.Identifier{ch}.Sanitize()).Scan(&killed)
	if err != nil || killed != 1 {
		t.Fatalf("terminating the listener: %d killed, %v", killed, err)
	}
}

// TestListenerLossLogged: a listener whose connection is lost says so in
// the store's log, since Subscribe returns no error while it retries.
func TestListenerLossLogged(t *testing.T) {
	dsn := newSchema(t)
	var logs lockedBuffer
	db := openDSN(t, dsn, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	resyncs := make(chan struct{}, 16)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		_ = db.Subscribe(ctx, func(e latchkey.Event) {
			if e.Kind == latchkey.EventResync {
				resyncs <- struct{}{}
			}
		})
	}()
	// The deadline bounds the waits; it measures nothing.
	deadline := time.After(time.Minute)
	resync := func() {
		t.Helper()
		select {
		case <-resyncs:
		case <-deadline:
			t.Fatal("the subscriber never said resync")
		}
	}
	resync()
	terminateListener(t, db)
	resync() // listening again: the loss was logged before
	if !strings.Contains(logs.String(), "listening for other replicas' changes failed") {
		t.Errorf("the listener's lost connection was not logged; the log:\n%s", logs.String())
	}
}

// lockedBuffer is a bytes.Buffer for a logger written from goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
