package sqlite

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/storetest"
)

// TestBroadcaster runs the Broadcaster suite on database files, each
// opened by several handles as several processes would. Subscribers poll
// when the suite says, not on a ticker.
func TestBroadcaster(t *testing.T) {
	storetest.Broadcaster(t, storetest.BroadcasterHarness{
		New: func(t *testing.T) func() latchkey.Broadcaster {
			path := filepath.Join(t.TempDir(), "events.db")
			return func() latchkey.Broadcaster {
				db := openPath(t, path)
				db.polls = make(chan time.Time)
				return db
			}
		},
		Poll: func(t *testing.T, sub latchkey.Broadcaster) {
			// The first send starts a poll; the second is received once
			// that poll is over. The deadline bounds a failure only.
			polls, deadline := sub.(*DB).polls, time.After(time.Minute)
			for range 2 {
				select {
				case polls <- time.Time{}:
				case <-deadline:
					t.Fatal("the subscriber stopped polling")
				}
			}
		},
		Unreadable: unreadableEvent,
	})
}

// unreadableEvent publishes e on pub with a user id that is text, which
// no subscriber can read into an int64, and returns a function that puts
// e's own user id in its place. The events table is made to accept text
// in that column first (a STRICT table of the same columns, with user_id
// of type ANY).
func unreadableEvent(t *testing.T, pub latchkey.Broadcaster, e latchkey.Event) (mend func()) {
	t.Helper()
	db := pub.(*DB)
	const relax = `
		ALTER TABLE events RENAME TO events_before;
		CREATE TABLE events (
			id         INTEGER PRIMARY KEY AUTOINCREMENT,
			kind       TEXT NOT NULL,
			ref        TEXT NOT NULL,
			created_at TEXT NOT NULL,
			user_id    ANY NOT NULL DEFAULT 0
		) STRICT;
		INSERT INTO events (id, kind, ref, created_at, user_id)
			SELECT id, kind, ref, created_at, user_id FROM events_before;
		DROP TABLE events_before;`
	if _, err := db.write.ExecContext(t.Context(), relax); err != nil {
		t.Fatalf("making the events table take text user ids: %v", err)
	}
	var id int64
	err := db.write.QueryRowContext(t.Context(),
		`INSERT INTO events (kind, ref, user_id, created_at) VALUES (?, ?, 'unreadable', ?) RETURNING id`,
		string(e.Kind), e.ID, formatTime(time.Now())).Scan(&id)
	if err != nil {
		t.Fatalf("publishing an unreadable event: %v", err)
	}
	return func() {
		if _, err := db.write.ExecContext(t.Context(), `UPDATE events SET user_id = ? WHERE id = ?`, e.UserID, id); err != nil {
			t.Fatalf("mending the unreadable event: %v", err)
		}
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
