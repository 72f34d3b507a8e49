package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/latchkey/latchkey"
)

var _ latchkey.Broadcaster = (*DB)(nil)

// EventPoll is how often Subscribe looks for new events: a change made by
// another process (the command line, say) waits about that long for the
// server's acknowledgement. A poll that finds nothing is one indexed read.
const EventPoll = 10 * time.Millisecond

// eventRetention is how long events are kept; any subscriber is far more
// current than that.
const eventRetention = time.Hour

// Publish records e in the events table, where every process on this
// database polls for it, drops events older than an hour, and returns the
// event's id, its Seq: ids grow in the order the events commit.
func (db *DB) Publish(ctx context.Context, e latchkey.Event) (int64, error) {
	var seq int64
	err := db.writeTx(ctx, func(tx *sql.Tx) (err error) {
		seq, err = publish(ctx, tx, e)
		return err
	})
	return seq, err
}

// The queries of publish.
const (
	publishQuery    = `INSERT INTO events (kind, ref, user_id, created_at) VALUES (?, ?, ?, ?)`
	dropEventsQuery = `DELETE FROM events WHERE created_at < ?`
)

// publish records e with tx, as Publish does, and returns its Seq.
func publish(ctx context.Context, tx execer, e latchkey.Event) (int64, error) {
	now := time.Now()
	seq, err := insertEvent(ctx, tx, e, now)
	if err != nil {
		return 0, err
	}
	return seq, dropEvents(ctx, tx, now)
}

// insertEvent records e with tx, dated now, and returns its Seq.
func insertEvent(ctx context.Context, tx execer, e latchkey.Event, now time.Time) (int64, error) {
	res, err := tx.ExecContext(ctx, publishQuery, string(e.Kind), e.ID, e.UserID, formatTime(now))
	if err != nil {
		return 0, wrap("publish", err)
	}
	seq, err := res.LastInsertId()
	if err != nil {
		return 0, wrap("publish", err)
	}
	return seq, nil
}

// dropEvents deletes with tx the events older than eventRetention at now.
func dropEvents(ctx context.Context, tx execer, now time.Time) error {
	if _, err := tx.ExecContext(ctx, dropEventsQuery, formatTime(now.Add(-eventRetention))); err != nil {
		return wrap("publish", err)
	}
	return nil
}

// Subscribe calls f with EventResync, then with every event published
// after it started, in order, polling every EventPoll until ctx ends, and
// returns ctx's error; after each poll that worked, with EventAlive. A
// failed poll is tried again; since events are read by id, none is lost.
func (db *DB) Subscribe(ctx context.Context, f func(latchkey.Event)) error {
	var last int64
	if err := db.queryRow(ctx, `SELECT coalesce(max(id), 0) FROM events`).Scan(&last); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return wrap("subscribe", err)
	}
	f(latchkey.Event{Kind: latchkey.EventResync})
	var polls <-chan time.Time = db.polls
	if polls == nil {
		tick := time.NewTicker(EventPoll)
		defer tick.Stop()
		polls = tick.C
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-polls:
		}
		var err error
		if last, err = db.poll(ctx, last, f); err != nil && ctx.Err() == nil {
			// Transient (the file is busy, say): the next tick tries again.
			continue
		}
		if ctx.Err() == nil {
			f(latchkey.Event{Kind: latchkey.EventAlive})
		}
	}
}

// poll delivers the events after id last and returns the last id seen.
func (db *DB) poll(ctx context.Context, last int64, f func(latchkey.Event)) (int64, error) {
	rows, err := db.query(ctx, `SELECT id, kind, ref, user_id FROM events WHERE id > ? ORDER BY id LIMIT 1000`, last)
	if err != nil {
		return last, wrap("subscribe", err)
	}
	events, next, err := collectEvents(rows, last)
	rows.Close()
	for _, e := range events {
		f(e)
	}
	if err != nil {
		return next, fmt.Errorf("sqlite: subscribe: %w", err)
	}
	return next, nil
}

// eventRows is what collectEvents reads: *sql.Rows.
type eventRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// collectEvents reads the events of rows, and the id of the last one read
// (last when none was). A read that fails part way returns the events read
// before it with its error: they are delivered, and the next poll starts
// after them, so that nothing read is skipped or heard twice.
func collectEvents(rows eventRows, last int64) ([]latchkey.Event, int64, error) {
	var events []latchkey.Event
	for rows.Next() {
		var id int64
		var e latchkey.Event
		if err := rows.Scan(&id, &e.Kind, &e.ID, &e.UserID); err != nil {
			return events, last, err
		}
		e.Seq = id
		events = append(events, e)
		last = id
	}
	return events, last, rows.Err()
}
