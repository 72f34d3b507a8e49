package postgres

import (
	"context"
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
	pub, sub := openDSN(t, dsn, Options{}), openDSN(t, dsn, Options{})
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
	user := latchkey.Event{Kind: latchkey.EventUserChanged, ID: "7"}
	if err := pub.Publish(t.Context(), user); err != nil {
		t.Fatal(err)
	}
	next(user)
}
