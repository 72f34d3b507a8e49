package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/latchkey/latchkey"
)

var _ latchkey.Broadcaster = (*DB)(nil)

// channel is the NOTIFY channel of the schema db works in, so that two
// installations in one database (or two tests) do not hear each other.
// A failure (a cancelled context, say) is not remembered: the next call
// asks again.
func (db *DB) channel(ctx context.Context) (string, error) {
	db.chanMu.Lock()
	defer db.chanMu.Unlock()
	if db.chanName != "" {
		return db.chanName, nil
	}
	var schema string
	if err := db.pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return "", err
	}
	db.chanName = "latchkey:" + schema
	return db.chanName, nil
}

// Publish tells every replica listening on this database of e, with
// NOTIFY, numbered from the schema's event_seq. It is sent after the
// change has committed.
func (db *DB) Publish(ctx context.Context, e latchkey.Event) (int64, error) {
	ch, err := db.channel(ctx)
	if err != nil {
		return 0, wrap("publish", err)
	}
	seq, err := publish(ctx, db.pool, ch, e)
	if err != nil {
		return 0, wrap("publish", err)
	}
	return seq, nil
}

// publish numbers e and NOTIFYs ch of it with q: within a transaction,
// subscribers hear it when the transaction commits, never if it does not.
func publish(ctx context.Context, q rowQuerier, ch string, e latchkey.Event) (int64, error) {
	payload := " " + string(e.Kind) + " " + e.ID + " " + strconv.FormatInt(e.UserID, 10)
	var seq int64
	err := q.QueryRow(ctx, `WITH n AS (SELECT nextval('event_seq') AS seq)
		SELECT seq, pg_notify($1, seq::text || $2) FROM n`, ch, payload).Scan(&seq, nil)
	return seq, err
}

// Subscribe listens on a connection of its own until ctx ends, calling f
// with each event. After every (re)connection it first calls f with
// EventResync, since anything sent while it was away is lost. A dropped
// connection is retried with backoff from 100ms to 5s.
func (db *DB) Subscribe(ctx context.Context, f func(latchkey.Event)) error {
	backoff := 100 * time.Millisecond
	for {
		heard, err := db.listen(ctx, f)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if heard {
			backoff = 100 * time.Millisecond
		}
		// The caller hears a resync once listening again; the operator
		// hears why it stopped.
		db.log.Warn("listening for other replicas' changes failed; retrying", "err", err, "retry_in", backoff.String())
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// listenPing is how long the listener waits for a notification before it
// checks that its connection is still alive, and tells its subscriber so
// (EventAlive).
const listenPing = latchkey.AliveEvery / 2

// listen holds one LISTEN connection until it fails. It reports whether it
// got as far as listening.
func (db *DB) listen(ctx context.Context, f func(latchkey.Event)) (bool, error) {
	ch, err := db.channel(ctx)
	if err != nil {
		return false, err
	}
	cfg := db.pool.Config().ConnConfig.Copy()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, fmt.Errorf("postgres: listen: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
		return false, fmt.Errorf("postgres: listen: %w", err)
	}
	f(latchkey.Event{Kind: latchkey.EventResync})
	f(latchkey.Event{Kind: latchkey.EventAlive})
	alive := time.Now()
	for {
		if time.Since(alive) >= listenPing {
			// Make sure the connection still works: the answer comes
			// after every notification sent before the ping, which the
			// next waits return first.
			pctx, cancel := context.WithTimeout(ctx, listenPing)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return true, ctx.Err()
				}
				return true, fmt.Errorf("postgres: listen: %w", err)
			}
			alive = time.Now()
			f(latchkey.Event{Kind: latchkey.EventAlive})
		}
		wctx, cancel := context.WithTimeout(ctx, listenPing)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			f(parsePayload(n.Payload))
		case ctx.Err() != nil:
			return true, ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			// Quiet: the next round pings.
		default:
			return true, fmt.Errorf("postgres: listen: %w", err)
		}
	}
}

// parsePayload reads "seq kind id user" (user optional).
func parsePayload(p string) latchkey.Event {
	seq, rest, _ := strings.Cut(p, " ")
	kind, rest, _ := strings.Cut(rest, " ")
	id, user, _ := strings.Cut(rest, " ")
	n, _ := strconv.ParseInt(seq, 10, 64)
	uid, _ := strconv.ParseInt(user, 10, 64)
	return latchkey.Event{Kind: latchkey.EventKind(kind), ID: id, UserID: uid, Seq: n}
}
