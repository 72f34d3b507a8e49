package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
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
// writer prepares the queries of prepare on the write connection before
// its first round, and every round runs them as prepared (see batchTx).
type group struct {
	prepare []string // set before the first write

	mu      sync.Mutex
	queue   []*job
	running bool                 // a writer is running the queue
	stmts   map[string]*sql.Stmt // the statements of prepare, once prepared

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
			ran = append(ran, j)
			break
		}
		if _, err := tx.ExecContext(ctx, `SAVEPOINT job`); err != nil {
			tx.Rollback()
			fail(err, append(ran, j), round[i+1:])
			return
		}
		err := j.call(ctx, tx)
		var rerr error
		if err != nil {
			_, rerr = tx.ExecContext(ctx, `ROLLBACK TO job`)
		}
		if rerr == nil {
			_, rerr = tx.ExecContext(ctx, `RELEASE job`)
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
		ran = append(ran, j)
	}
	if len(ran) == 0 {
		tx.Rollback()
		return
	}
	if g.committed != nil {
		g.committed(len(ran))
	}
	err := tx.Commit()
	for _, j := range ran {
		j.finish(err)
	}
}

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
	stmts = make(map[string]*sql.Stmt, len(g.prepare))
	for _, q := range g.prepare {
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

// A batchTx is the transaction of a round. Its ExecContext runs a query
// the writer prepared as its prepared statement, and any other as
// *sql.Tx does.
type batchTx struct {
	*sql.Tx
	prepared map[string]*sql.Stmt // on the write connection, by query
	stmts    map[string]*sql.Stmt // of this transaction, by query
}

// ExecContext runs query with args in t.
func (t *batchTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	s, ok := t.stmts[query]
	if !ok {
		p, ok := t.prepared[query]
		if !ok {
			return t.Tx.ExecContext(ctx, query, args...)
		}
		if t.stmts == nil {
			t.stmts = make(map[string]*sql.Stmt, len(t.prepared))
		}
		// The statement is prepared on the connection of t already: this
		// only binds it to t.
		s = t.Tx.StmtContext(ctx, p)
		t.stmts[query] = s
	}
	return s.ExecContext(ctx, args...)
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
