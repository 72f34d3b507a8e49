package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchkey/latchkey"
)

// group commits small writes that arrive together in one transaction: the
// COMMIT, which writes the WAL frames of every page changed, costs more
// than the writes themselves, and one COMMIT of many writes costs little
// more than one of a single write.
//
// A write joins the queue; when no writer is running, it starts one, a
// goroutine that runs the queue until it is empty. Each round begins a
// transaction, takes every write queued until then (those that arrived
// while the previous round ran: nothing waits for company), runs each in a
// SAVEPOINT of its own, and commits them all. A round of one write runs it
// without a savepoint, as writeTx would.
//
// Parsing its statements took a seventh of the CPU of a create, so the
// writer prepares the queries of prepare, and its own (the savepoints'),
// on the write connection before its first round, and every round runs
// them as prepared (see batchTx).
//
// A write may leave events to publish with the round (batchTx.Publish):
// the round writes each distinct event of the writes it commits once,
// just before its COMMIT, so that its creates, which all tell the same
// thing of the same user ("a token of user 7 was created"), cost other
// processes one event to read, not one each.
type group struct {
	prepare []string // set before the first write

	mu      sync.Mutex
	queue   []*job
	running bool                 // a writer is running the queue
	stmts   map[string]*sql.Stmt // the statements of prepare, once prepared

	// The rounds committed, and the writes they held (see GroupCommits).
	commits, writes atomic.Int64

	// Hooks for tests, set while no call that reads them runs. queued,
	// when set, is called with the length of the queue after each write
	// joins it; committed with the number of writes of each round, before
	// its COMMIT.
	queued    func(n int)
	committed func(n int)
}

// A job is one write waiting in the queue of a group.
type job struct {
	ctx   context.Context // the caller's: once it ends, fn is not run
	fn    func(ctx context.Context, tx *batchTx) error
	state atomic.Int32

	// Set before done is closed.
	err      error
	panicked any // what fn panicked with, if it did
	done     chan struct{}
}

// The states of a job: it waits in the queue until either the writer takes
// it, and its caller waits for the outcome, or its caller leaves.
const (
	jobQueued int32 = iota
	jobTaken
	jobAbandoned
)

// take claims j for the writer, unless its caller left.
func (j *job) take() bool { return j.state.CompareAndSwap(jobQueued, jobTaken) }

// finish reports err to j's caller.
func (j *job) finish(err error) {
	j.err = err
	close(j.done)
}

// call runs j's fn with tx. A panic is carried back to the caller, who
// panics with it, so that the writer survives it.
func (j *job) call(ctx context.Context, tx *batchTx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			j.panicked = p
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return j.fn(ctx, tx)
}

// groupTx runs fn in a transaction on the write connection, as writeTx
// does, with the other calls of groupTx that arrive while the write
// connection is busy: fn and theirs are committed together, each in a
// savepoint of its own. When fn fails, only its own changes are rolled
// back, and only this call returns its error. When the transaction fails
// (its COMMIT, say), every call of it returns the error and none of their
// changes is stored.
//
// When ctx ends before fn runs, groupTx returns ctx's error and fn never
// runs; once fn runs, groupTx waits for the outcome of the COMMIT, whatever
// ctx does. fn runs on another goroutine, with a ctx that is never
// canceled (a statement that one caller interrupts would roll back the
// whole transaction), and must not use the caller's, nor keep tx.
func (db *DB) groupTx(ctx context.Context, fn func(ctx context.Context, tx *batchTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	j := &job{ctx: ctx, fn: fn, done: make(chan struct{})}
	g := &db.group
	g.mu.Lock()
	g.queue = append(g.queue, j)
	n, start := len(g.queue), !g.running
	g.running = true
	g.mu.Unlock()
	if g.queued != nil {
		g.queued(n)
	}
	if start {
		go g.run(db.write)
	}
	select {
	case <-j.done:
	case <-ctx.Done():
		if j.state.CompareAndSwap(jobQueued, jobAbandoned) {
			return ctx.Err()
		}
		<-j.done // the writer has it: wait for the outcome
	}
	if j.panicked != nil {
		panic(j.panicked)
	}
	return j.err
}

// run is the writer: it commits rounds of the queue on w until the queue
// is empty.
func (g *group) run(w *sql.DB) {
	// Never canceled: see groupTx.
	ctx := context.Background()
	for {
		g.mu.Lock()
		if len(g.queue) == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()

		stmts := g.prepared(ctx, w)
		// The goroutines ready to run, whose writes may be about to join
		// the queue, run first: on a busy server that doubles the writes
		// a round commits (2.0 to 4.6 a round, 8 creates at once on 2
		// cores), and so halves the COMMITs. On an idle one none is
		// ready, and the round begins at once: nothing waits for company.
		runtime.Gosched()
		tx, err := w.BeginTx(ctx, nil)
		g.mu.Lock()
		round := g.queue
		g.queue = nil
		g.mu.Unlock()
		if err != nil {
			fail(err, nil, round)
			continue
		}
		g.commit(ctx, &batchTx{Tx: tx, prepared: stmts}, round)
	}
}

// commit runs the jobs of round in tx, and commits tx, or rolls it back
// when none is left to commit.
func (g *group) commit(ctx context.Context, tx *batchTx, round []*job) {
	var ran []*job // the jobs to commit
	for i, j := range round {
		if !j.take() {
			continue // its caller left
		}
		if err := j.ctx.Err(); err != nil {
			j.finish(err)
			continue
		}
		if len(round) == 1 {
			if err := j.call(ctx, tx); err != nil {
				tx.Rollback()
				j.finish(err)
				return
			}
			tx.keep()
			ran = append(ran, j)
			break
		}
		if _, err := tx.ExecContext(ctx, savepointQuery); err != nil {
			tx.Rollback()
			fail(err, append(ran, j), round[i+1:])
			return
		}
		err := j.call(ctx, tx)
		var rerr error
		if err != nil {
			tx.drop()
			_, rerr = tx.ExecContext(ctx, rollbackToQuery)
		}
		if rerr == nil {
			_, rerr = tx.ExecContext(ctx, releaseQuery)
		}
		if rerr != nil {
			// The transaction is gone (SQLite rolls it back after a full
			// disk or an I/O error, say): the writes before j are lost,
			// and those after it would run outside of it.
			tx.Rollback()
			if err != nil {
				j.finish(err)
				rerr = fmt.Errorf("rolled back with a write that failed (%v): %w", err, rerr)
			} else {
				ran = append(ran, j)
			}
			fail(rerr, ran, round[i+1:])
			return
		}
		if err != nil {
			j.finish(err)
			continue
		}
		tx.keep()
		ran = append(ran, j)
	}
	if len(ran) == 0 {
		tx.Rollback()
		return
	}
	if err := tx.publishKept(ctx); err != nil {
		tx.Rollback()
		fail(err, ran, nil)
		return
	}
	if g.committed != nil {
		g.committed(len(ran))
	}
	err := tx.Commit()
	if err == nil {
		g.commits.Add(1)
		g.writes.Add(int64(len(ran)))
	}
	for _, j := range ran {
		j.finish(err)
	}
}

// GroupCommits reports how many rounds of creates (see groupTx) were
// committed since the store was opened, and how many creates they held.
func (db *DB) GroupCommits() (commits, writes int64) {
	return db.group.commits.Load(), db.group.writes.Load()
}

// The queries of the savepoint each write of a round of more than one
// runs in.
const (
	savepointQuery  = `SAVEPOINT job`
	rollbackToQuery = `ROLLBACK TO job`
	releaseQuery    = `RELEASE job`
)

// prepared returns the statements of g.prepare on w, and prepares them
// the first time. When one cannot be prepared (the schema is not migrated
// yet, say), it returns none, and tries again the next time.
func (g *group) prepared(ctx context.Context, w *sql.DB) map[string]*sql.Stmt {
	g.mu.Lock()
	stmts := g.stmts
	g.mu.Unlock()
	if stmts != nil || len(g.prepare) == 0 {
		return stmts
	}
	queries := append([]string{savepointQuery, rollbackToQuery, releaseQuery}, g.prepare...)
	stmts = make(map[string]*sql.Stmt, len(queries))
	for _, q := range queries {
		s, err := w.PrepareContext(ctx, q)
		if err != nil {
			for _, s := range stmts {
				s.Close()
			}
			return nil
		}
		stmts[q] = s
	}
	g.mu.Lock()
	g.stmts = stmts
	g.mu.Unlock()
	return stmts
}

// close closes the statements g prepared.
func (g *group) close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	var errs []error
	for _, s := range g.stmts {
		errs = append(errs, s.Close())
	}
	g.stmts = nil
	return errors.Join(errs...)
}

// A batchTx is the transaction of a round. Its ExecContext and
// QueryRowContext run a query the writer prepared as its prepared
// statement, and any other as *sql.Tx does.
type batchTx struct {
	*sql.Tx
	prepared map[string]*sql.Stmt // on the write connection, by query
	stmts    map[string]*sql.Stmt // of this transaction, by query

	pending []latchkey.Event // published by the write that runs
	kept    []latchkey.Event // published by the writes kept, each once
}

// stmt returns the statement of query bound to t, or nil when the writer
// did not prepare it.
func (t *batchTx) stmt(ctx context.Context, query string) *sql.Stmt {
	s, ok := t.stmts[query]
	if !ok {
		p, ok := t.prepared[query]
		if !ok {
			return nil
		}
		if t.stmts == nil {
			t.stmts = make(map[string]*sql.Stmt, len(t.prepared))
		}
		// The statement is prepared on the connection of t already: this
		// only binds it to t.
		s = t.Tx.StmtContext(ctx, p)
		t.stmts[query] = s
	}
	return s
}

// ExecContext runs query with args in t.
func (t *batchTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s := t.stmt(ctx, query); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, query, args...)
}

// QueryRowContext runs query, of one row, with args in t.
func (t *batchTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if s := t.stmt(ctx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return t.Tx.QueryRowContext(ctx, query, args...)
}

// Publish records e to be published with the round, as Publish does, if
// the write that runs is committed: the round writes each distinct event
// of its writes once, before its COMMIT, and their Seq is not known to
// the writes.
func (t *batchTx) Publish(e latchkey.Event) {
	t.pending = append(t.pending, e)
}

// keep adds the events of the write that ran, which is kept, to the
// round's.
func (t *batchTx) keep() {
	for _, e := range t.pending {
		if !slices.Contains(t.kept, e) {
			t.kept = append(t.kept, e)
		}
	}
	t.pending = t.pending[:0]
}

// drop forgets the events of the write that ran, which is rolled back.
func (t *batchTx) drop() { t.pending = t.pending[:0] }

// publishKept writes the round's events in the order they were first
// published, and drops the events past their retention once.
func (t *batchTx) publishKept(ctx context.Context) error {
	if len(t.kept) == 0 {
		return nil
	}
	now := time.Now()
	for _, e := range t.kept {
		if _, err := insertEvent(ctx, t, e, now); err != nil {
			return err
		}
	}
	return dropEvents(ctx, t, now)
}

// fail reports err to the callers of taken, the jobs the writer has taken,
// and to those of the jobs of rest whose callers are still waiting.
func fail(err error, taken, rest []*job) {
	for _, j := range taken {
		j.finish(err)
	}
	for _, j := range rest {
		if j.take() {
			j.finish(err)
		}
	}
}
