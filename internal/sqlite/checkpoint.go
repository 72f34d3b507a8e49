package sqlite

import (
	"context"
	"time"
)

// The WAL is copied into the database file (a checkpoint) by a
// connection of its own, the checkpointer, every checkpointEvery; and by
// the writer, as SQLite does by itself, at the COMMIT that brings the WAL
// to walAutocheckpoint pages.
//
// A checkpoint syncs the WAL, copies the latest version of each page it
// holds into the database file, and syncs that file. Under a stream of
// creates that is 20-120 ms of work a second (measured on the machine of
// docs/benchmarks.md), and when the writer ran it, every write waited for
// it: a stall once a second, the p99 of creates at 130-170 ms. The
// checkpointer's checkpoints are PASSIVE: they copy what was committed
// when they began, beside the writer, which goes on committing.
//
// A passive checkpoint never catches up with a writer that never stops,
// and SQLite starts the WAL again from its beginning only when a write
// begins with all of it copied. So the writer keeps its own checkpoint at
// walAutocheckpoint pages, which then finds nearly everything copied
// already, and after which the WAL starts again: the WAL stays at about
// 10,000 pages (41 MB; the commit that crosses the mark writes its pages
// first), but for a long read (below). SQLite's default, 1,000 pages (4 MB), would restart it
// some 25 times a second under creates, each time for a checkpoint of the
// writer's own.
//
// With synchronous=NORMAL, a checkpoint is also when the WAL is synced
// to the disk (a COMMIT only writes it): a power loss or a crash of the
// operating system loses the commits since the last checkpoint, and so
// the checkpointer runs every checkpointEvery, whether or not the WAL is
// full, to keep that to the last tenth of a second or so (but for a long
// read, which holds checkpoints back: see docs/operations.md). A crash of the
// process loses nothing committed.
//
// A read holds back every checkpoint while it is open: none may copy past
// what the read had in view when it began, so the WAL grows, unsynced,
// until the read ends (an export of the inventory as CSV to a slow
// client, a backup). When the WAL starts again after that, SQLite keeps
// the file as large as it grew and writes over it; walSizeLimit, the
// writer's journal_size_limit, is what the writer's first commit then
// cuts it back to: above what the WAL reaches otherwise (walAutocheckpoint
// pages and a commit's), so that it is never cut only to grow again.
const (
	walAutocheckpoint = 10000
	walSizeLimit      = 64 << 20
	checkpointEvery   = 100 * time.Millisecond
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

// checkpoint copies the WAL into the database file, as much of it as was
// committed when it began, syncing the WAL first, on the checkpointer's
// connection: PASSIVE, it waits neither for reads nor for the writer, and
// holds up neither.
func (db *DB) checkpoint(ctx context.Context) error {
	_, err := db.checkpointer.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
	return err
}
