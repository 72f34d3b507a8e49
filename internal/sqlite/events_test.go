package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// TestEvents: an event published by one handle (another process, say) is
// heard, in order, by a subscriber on another handle of the same file.
func TestEvents(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	open := func() *DB {
		db, err := Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		return db
	}
	pub, sub := open(), open()
	if err := pub.Publish(t.Context(), latchkey.Event{Kind: latchkey.EventKeysChanged}); err != nil {
		t.Fatal(err)
	}
	got := make(chan latchkey.Event, 16)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- sub.Subscribe(ctx, func(e latchkey.Event) { got <- e }) }()
	next := func(want latchkey.Event) {
		t.Helper()
		select {
		case e := <-got:
			if e != want {
				t.Fatalf("heard %+v, want %+v", e, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("heard nothing, want %+v", want)
		}
	}
	// The event published before Subscribe started is not replayed.
	next(latchkey.Event{Kind: latchkey.EventResync})
	sent := []latchkey.Event{
		{Kind: latchkey.EventTokenRevoked, ID: "t1"},
		{Kind: latchkey.EventUserChanged, ID: "7"},
		{Kind: latchkey.EventTokenRevoked, ID: "t2"},
	}
	for _, e := range sent {
		if err := pub.Publish(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range sent {
		next(e) // in the order published
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("Subscribe after cancel = %v", err)
	}
}
