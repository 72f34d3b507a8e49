package sqlite

import (
	"context"
	"time"
)

// The WAL is copied into the database file (a checkpoint) by SQLite
// itself once it holds walAutocheckpoint pages, at the COMMIT that
// reached them, and by the store every checkpointEvery.
//
// SQLite's default, 1,000 pages (4 MiB), made a stream of creates
// checkpoint some 25 times a second: each checkpoint copies every page
// the WAL holds, however often it was written since, and syncs the WAL and
// the database file, and the writer waits for it. A checkpoint of 10,000
// pages (40 MiB) copies the pages written over and over (the right edge
// of each index) once for ten times as many creates.
//
// With synchronous=NORMAL, a checkpoint is also when the WAL is synced
// to the disk (a COMMIT only writes it): a power loss or a crash of the
// operating system loses the commits since the last checkpoint, and so
// the store checkpoints every checkpointEvery, whether or not the WAL is
// full, to keep that to the last second or so. A crash of the process
// loses nothing committed.
const (
	walAutocheckpoint = 10000
	checkpointEvery   = time.Second
)

// checkpoints runs a checkpoint at each tick of ticks until stop is
// closed, then closes done. It calls checkpointed, when not nil, after
// each checkpoint.
func (db *DB) checkpoints(ticks <-chan time.Time, checkpointed func(), stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	for {
		select {
		case <-stop:
			return
		case <-ticks:
			// An error (another process holds the lock, say) leaves the
			// commits where they are, in the WAL, until the next tick.
			_ = db.checkpoint(context.Background())
			if checkpointed != nil {
				checkpointed()
			}
		}
	}
}

// checkpoint copies the WAL into the database file, syncing the WAL first,
// on the write connection, between two writes: the WAL is then copied
// whole (unless a read holds an older snapshot), and the next write starts
// it again from the beginning. PASSIVE: it never waits for a read.
func (db *DB) checkpoint(ctx context.Context) error {
	_, err := db.write.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
	return err
}
