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
)

// TestBroadcast: an event published on one handle is heard on another
// handle of the same schema, and not in another schema; a listener whose
// connection is killed comes back and says resync first.
func TestBroadcast(t *testing.T) {
	dsn := newSchema(t)
	var logs lockedBuffer
	pub, sub := openDSN(t, dsn, Options{}), openDSN(t, dsn, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err := sub.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	other := openDSN(t, newSchema(t), Options{})

	events := make(chan latchkey.Event, 16)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- sub.Subscribe(ctx, func(e latchkey.Event) { events <- e }) }()
	defer func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Subscribe after cancel = %v, want context.Canceled", err)
		}
	}()
	next := func(want latchkey.Event) {
		t.Helper()
		select {
		case got := <-events:
			if got != want {
				t.Fatalf("heard %+v, want %+v", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("heard nothing, want %+v", want)
		}
	}
	next(latchkey.Event{Kind: latchkey.EventResync})

	if err := other.Publish(t.Context(), latchkey.Event{Kind: latchkey.EventKeysChanged}); err != nil {
		t.Fatal(err)
	}
	revoked := latchkey.Event{Kind: latchkey.EventTokenRevoked, ID: "ab12"}
	if err := pub.Publish(t.Context(), revoked); err != nil {
		t.Fatal(err)
	}
	next(revoked) // and not the other schema's event, which would come first

	// Kill the listening connection: the subscriber reconnects and resyncs.
	ch, err := sub.channel(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(t.Context()))
	var killed int
	err = conn.QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query = $1`,
		"LISTEN "+pgx.Identifier{ch}.Sanitize()).Scan(&killed)
	if err != nil || killed != 1 {
		t.Fatalf("terminating the listener: %d killed, %v", killed, err)
	}
	next(latchkey.Event{Kind: latchkey.EventResync})
	if !strings.Contains(logs.String(), "listening for other replicas' changes failed") {
		t.Errorf("the listener's lost connection was not logged; the log:\n%s", logs.String())
	}
	user := latchkey.Event{Kind: latchkey.EventUserChanged, ID: "7"}
	if err := pub.Publish(t.Context(), user); err != nil {
		t.Fatal(err)
	}
	next(user)
}

// TestPublishAfterACancelledFirst: a first Publish whose context was
// cancelled (say, the command line's, interrupted) does not break
// publishing for the rest of the process.
func TestPublishAfterACancelledFirst(t *testing.T) {
	dsn := newSchema(t)
	pub, sub := openDSN(t, dsn, Options{}), openDSN(t, dsn, Options{})
	if err := sub.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	events := make(chan latchkey.Event, 16)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { _ = sub.Subscribe(ctx, func(e latchkey.Event) { events <- e }) }()
	if e := <-events; e.Kind != latchkey.EventResync {
		t.Fatalf("heard %+v first, want a resync", e)
	}
	cancelled, stop := context.WithCancel(t.Context())
	stop()
	if err := pub.Publish(cancelled, latchkey.Event{Kind: latchkey.EventKeysChanged}); err == nil {
		t.Fatal("Publish with a cancelled context = nil, want an error")
	}
	want := latchkey.Event{Kind: latchkey.EventTokenRevoked, ID: "cd34"}
	if err := pub.Publish(t.Context(), want); err != nil {
		t.Fatalf("Publish after a cancelled one = %v, want nil", err)
	}
	select {
	case got := <-events:
		if got != want {
			t.Fatalf("heard %+v, want %+v", got, want)
		}
	case <-t.Context().Done():
		t.Fatal("the event published after a cancelled one was never heard")
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
