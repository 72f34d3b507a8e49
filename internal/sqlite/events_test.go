package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
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

// failingRows yields events 1, 2, 3 (ids 11, 12, 13) and fails to scan the
// row at index failAt, or, with failAt past them, ends with err.
type failingRows struct {
	i, failAt int
	err       error
}

func (r *failingRows) Next() bool { r.i++; return r.i <= 3 }
func (r *failingRows) Err() error { return r.err }
func (r *failingRows) Scan(dest ...any) error {
	if r.i == r.failAt {
		return errors.New("scan failed")
	}
	*dest[0].(*int64) = int64(10 + r.i)
	*dest[1].(*latchkey.EventKind) = latchkey.EventTokenRevoked
	*dest[2].(*string) = fmt.Sprintf("t%d", r.i)
	*dest[3].(*int64) = 7
	return nil
}

// TestCollectEventsPartly: a read that fails part way gives back the events
// read before the failure and the id of the last of them, so that the poll
// delivers them and the next one starts right after them.
func TestCollectEventsPartly(t *testing.T) {
	for _, tc := range []struct {
		name     string
		rows     *failingRows
		wantIDs  []string
		wantLast int64
		wantErr  bool
	}{
		{"whole", &failingRows{failAt: 99}, []string{"t1", "t2", "t3"}, 13, false},
		{"third row fails", &failingRows{failAt: 3}, []string{"t1", "t2"}, 12, true},
		{"first row fails", &failingRows{failAt: 1}, nil, 5, true},
		{"the rows end in error", &failingRows{failAt: 99, err: errors.New("interrupted")}, []string{"t1", "t2", "t3"}, 13, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			events, last, err := collectEvents(tc.rows, 5)
			var ids []string
			for _, e := range events {
				ids = append(ids, e.ID)
			}
			if !slices.Equal(ids, tc.wantIDs) || last != tc.wantLast || (err != nil) != tc.wantErr {
				t.Errorf("collectEvents = %q, last %d, %v; want %q, last %d, error %t", ids, last, err, tc.wantIDs, tc.wantLast, tc.wantErr)
			}
		})
	}
}
