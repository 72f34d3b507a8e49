package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/latchkey/latchkey"
)

// The tests of group commit hold the writer with a write that blocks, queue
// writes behind it, and then let it go: the writes queued meanwhile are the
// next round.

// holdWriter runs, with ctx, a write of db's group that does work (when not
// nil) and then blocks, and returns once it blocks. release lets it commit
// and checks that it succeeded.
func holdWriter(t *testing.T, db *DB, ctx context.Context, work func(ctx context.Context, tx *batchTx) error) (release func()) {
	t.Helper()
	running, unblock, done := make(chan struct{}), make(chan struct{}), make(chan error)
	go func() {
		done <- db.groupTx(ctx, func(ctx context.Context, tx *batchTx) error {
			if work != nil {
				if err := work(ctx, tx); err != nil {
					return err
				}
			}
			close(running)
			<-unblock
			return nil
		})
	}()
	select {
	case <-running:
	case err := <-done:
		t.Fatalf("the write holding the writer = %v before it blocked", err)
	}
	return func() {
		t.Helper()
		close(unblock)
		if err := <-done; err != nil {
			t.Fatalf("the write holding the writer = %v", err)
		}
	}
}

// awaitQueued returns a channel that is closed once n writes wait in db's
// queue. The writer must be held (see holdWriter), so that the queue only
// grows.
func awaitQueued(db *DB, n int) <-chan struct{} {
	all := make(chan struct{})
	db.group.queued = func(queued int) {
		if queued == n {
			close(all)
		}
	}
	return all
}

// recordCommits returns a function that returns how many writes each COMMIT
// of db's group has committed so far.
func recordCommits(db *DB) (commits func() []int) {
	var mu sync.Mutex
	var sizes []int
	db.group.committed = func(n int) {
		mu.Lock()
		defer mu.Unlock()
		sizes = append(sizes, n)
	}
	return func() []int {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(sizes)
	}
}

// Fixtures.

func groupUser(t *testing.T, db *DB) *latchkey.User {
	t.Helper()
	u := &latchkey.User{Username: "alice", Email: "alice@example.com", Status: latchkey.StatusActive}
	if err := db.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser() = %v", err)
	}
	return u
}

func groupToken(n int, user int64) *latchkey.Token {
	return &latchkey.Token{ID: fmt.Sprintf("%080x", n), UserID: user, ClientID: latchkey.PersonalAccessClientID,
		Name: fmt.Sprintf("token %d", n), Scopes: latchkey.Scopes{}}
}

// created returns the audit record of tok's creation, as the service
// writes it.
func created(tok *latchkey.Token) *latchkey.AuditRecord {
	return &latchkey.AuditRecord{At: time.Now(), Action: latchkey.AuditTokenCreated, Actor: latchkey.ActorUser,
		ActorUserID: &tok.UserID, SubjectUserID: &tok.UserID, SubjectID: tok.ID}
}

// stored reports which of the tokens exist (by id and name), which have the audit record of
// their creation, and how many EventTokenCreated events are stored.
type stored struct {
	tokens  []string
	audited []string
	events  int
}

func storedOf(t *testing.T, db *DB, tokens ...*latchkey.Token) stored {
	t.Helper()
	var s stored
	records, err := db.AuditRecords(t.Context(), latchkey.AuditFilter{Action: latchkey.AuditTokenCreated, Limit: 1000})
	if err != nil {
		t.Fatalf("AuditRecords() = %v", err)
	}
	for _, tok := range tokens {
		switch got, err := db.Token(t.Context(), tok.ID); latchkey.ErrorCode(err) {
		case "":
			if got.Name == tok.Name { // not another of the same id
				s.tokens = append(s.tokens, tok.Name)
			}
		case latchkey.ENOTFOUND:
		default:
			t.Fatalf("Token(%q) = %v", tok.Name, err)
		}
		if slices.ContainsFunc(records, func(r *latchkey.AuditRecord) bool { return r.SubjectID == tok.ID }) {
			s.audited = append(s.audited, tok.Name)
		}
	}
	err = db.read.QueryRowContext(t.Context(), `SELECT count(*) FROM events WHERE kind = ?`,
		string(latchkey.EventTokenCreated)).Scan(&s.events)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestGroupCommit queues creates behind a held writer: they are committed
// in one transaction, and each that fails fails alone, with the error it
// would have alone, and leaves no token, audit record or event.
func TestGroupCommit(t *testing.T) {
	db := open(t)
	ctx := t.Context()
	u := groupUser(t, db)
	existing := groupToken(1, u.ID)
	parent := groupToken(2, u.ID)
	for _, tok := range []*latchkey.Token{existing, parent} {
		if err := db.CreateToken(ctx, tok); err != nil {
			t.Fatalf("CreateToken(%s) = %v", tok.Name, err)
		}
	}
	if _, _, err := db.RevokeToken(ctx, parent.ID, time.Now(), latchkey.ReasonRevoked); err != nil {
		t.Fatalf("RevokeToken() = %v", err)
	}
	duplicate := groupToken(1, u.ID)
	duplicate.Name = "duplicate"
	stranger := groupToken(12, u.ID+1)
	stranger.Name = "of no user"
	orphan := groupToken(14, u.ID)
	orphan.ParentID, orphan.Name = parent.ID, "child of a revoked token"
	// A create that fails after its token is stored: its audit record is
	// refused.
	refused := groupToken(16, u.ID)
	refused.Name = "refused"
	const refuse = `CREATE TRIGGER refuse BEFORE INSERT ON audit_log
		WHEN NEW.subject_id = '` + "%s" + `' BEGIN SELECT RAISE(ABORT, 'refused'); END`
	if _, err := db.write.ExecContext(ctx, fmt.Sprintf(refuse, refused.ID)); err != nil {
		t.Fatal(err)
	}
	creates := []struct {
		tok  *latchkey.Token
		code string
	}{
		{groupToken(10, u.ID), ""},
		{duplicate, latchkey.ECONFLICT},
		{groupToken(11, u.ID), ""},
		{stranger, latchkey.ENOTFOUND},
		{groupToken(13, u.ID), ""},
		{orphan, latchkey.EUNAUTHENTICATED},
		{refused, latchkey.EINTERNAL},
		{groupToken(15, u.ID), ""},
	}
	var all []*latchkey.Token
	for _, c := range creates {
		all = append(all, c.tok)
	}
	before := storedOf(t, db, all...)

	commits := recordCommits(db)
	release := holdWriter(t, db, ctx, nil)
	queued := awaitQueued(db, len(creates))
	errs := make([]error, len(creates))
	var wg sync.WaitGroup
	for i, c := range creates {
		wg.Go(func() { errs[i] = db.CreateToken(ctx, c.tok, created(c.tok)) })
	}
	<-queued
	release()
	wg.Wait()

	if got, want := commits(), []int{1, 4}; !slices.Equal(got, want) {
		t.Errorf("writes per COMMIT = %v, want %v: the held write, then the 4 creates that succeed", got, want)
	}
	for i, c := range creates {
		if got := latchkey.ErrorCode(errs[i]); got != c.code {
			t.Errorf("CreateToken(%s) = %v (code %q), want code %q", c.tok.Name, errs[i], got, c.code)
		}
	}
	// The four creates are of one user: the round tells other processes
	// so once.
	want := stored{
		tokens:  []string{"token 10", "token 11", "token 13", "token 15"},
		audited: []string{"token 10", "token 11", "token 13", "token 15"},
		events:  before.events + 1,
	}
	if diff := cmp.Diff(want, storedOf(t, db, all...), cmp.AllowUnexported(stored{})); diff != "" {
		t.Errorf("stored after the round (-want +got):\n%s", diff)
	}
	if got, err := db.Token(ctx, existing.ID); err != nil || got.Name != existing.Name {
		t.Errorf("Token(the id created twice) = %v, %v; want the first, %q", got, err, existing.Name)
	}

	// Alone, each failing create fails as it did in company.
	for i, c := range creates {
		if c.code == "" {
			continue
		}
		err := db.CreateToken(ctx, c.tok, created(c.tok))
		if err == nil || errs[i] == nil || err.Error() != errs[i].Error() {
			t.Errorf("CreateToken(%s) alone = %v, in a round %v; want the same", c.tok.Name, err, errs[i])
		}
	}
}

// endedCtx is a context whose Err reports that it ended once end is called,
// while its Done channel never closes: its caller never sees it end, so
// only the writer can.
type endedCtx struct {
	context.Context
	ended atomic.Bool
}

func (c *endedCtx) end() { c.ended.Store(true) }

func (c *endedCtx) Err() error {
	if c.ended.Load() {
		return context.Canceled
	}
	return nil
}

// TestGroupCommitCanceled: a create whose context ends while it waits
// returns at once with the context's error, and is not stored; one whose
// context ends while it runs is committed, and succeeds.
func TestGroupCommitCanceled(t *testing.T) {
	db := open(t)
	u := groupUser(t, db)
	commits := recordCommits(db)

	running := groupToken(1, u.ID)
	runningCtx, cancelRunning := context.WithCancel(t.Context())
	release := holdWriter(t, db, runningCtx, func(ctx context.Context, tx *batchTx) error {
		return insertToken(ctx, tx, running)
	})
	queued := awaitQueued(db, 3)

	canceled, ended, kept := groupToken(2, u.ID), groupToken(3, u.ID), groupToken(4, u.ID)
	canceledCtx, cancel := context.WithCancel(t.Context())
	endedCtx := &endedCtx{Context: t.Context()}
	canceledErr, endedErr, keptErr := make(chan error, 1), make(chan error, 1), make(chan error, 1)
	go func() { canceledErr <- db.CreateToken(canceledCtx, canceled, created(canceled)) }()
	go func() { endedErr <- db.CreateToken(endedCtx, ended, created(ended)) }()
	go func() { keptErr <- db.CreateToken(t.Context(), kept, created(kept)) }()
	<-queued

	cancelRunning()
	cancel()
	// The writer is still held: the canceled create returns all the same.
	// The deadline bounds a failure only.
	select {
	case err := <-canceledErr:
		if !errors.Is(err, context.Canceled) || latchkey.ErrorCode(err) != latchkey.EINTERNAL {
			t.Errorf("CreateToken(canceled while it waits) = %v (code %q), want context.Canceled, code %q",
				err, latchkey.ErrorCode(err), latchkey.EINTERNAL)
		}
	case <-time.After(time.Minute):
		t.Fatal("CreateToken(canceled while it waits) did not return while the writer was busy")
	}
	endedCtx.end()
	release() // the write whose context ended while it ran succeeds

	if err := <-endedErr; !errors.Is(err, context.Canceled) || latchkey.ErrorCode(err) != latchkey.EINTERNAL {
		t.Errorf("CreateToken(ended before it ran) = %v (code %q), want context.Canceled, code %q",
			err, latchkey.ErrorCode(err), latchkey.EINTERNAL)
	}
	if err := <-keptErr; err != nil {
		t.Errorf("CreateToken() = %v", err)
	}
	if got, want := commits(), []int{1, 1}; !slices.Equal(got, want) {
		t.Errorf("writes per COMMIT = %v, want %v", got, want)
	}
	want := stored{tokens: []string{"token 1", "token 4"}, audited: []string{"token 4"}, events: 1}
	if diff := cmp.Diff(want, storedOf(t, db, running, canceled, ended, kept), cmp.AllowUnexported(stored{})); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}
}

// TestGroupCommitFails: when a round cannot commit, or its transaction is
// rolled back part way, every write of it fails and none is stored; the
// next round works.
func TestGroupCommitFails(t *testing.T) {
	for _, tc := range []struct {
		name string
		bad  func(ctx context.Context, tx *batchTx) error
	}{
		{"COMMIT fails", func(ctx context.Context, tx *batchTx) error {
			// A token of no user, whose foreign key is checked at COMMIT.
			if _, err := tx.ExecContext(ctx, `PRAGMA defer_foreign_keys = ON`); err != nil {
				return err
			}
			return insertToken(ctx, tx, groupToken(99, 12345))
		}},
		{"transaction rolled back", func(ctx context.Context, tx *batchTx) error {
			// As SQLite does itself for a full disk, say.
			if _, err := tx.ExecContext(ctx, `ROLLBACK`); err != nil {
				return err
			}
			return errors.New("disk full")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := open(t)
			ctx := t.Context()
			u := groupUser(t, db)
			release := holdWriter(t, db, ctx, nil)
			queued := awaitQueued(db, 3)
			first, last := groupToken(1, u.ID), groupToken(2, u.ID)
			var firstErr, badErr, lastErr error
			var wg sync.WaitGroup
			wg.Go(func() { firstErr = db.CreateToken(ctx, first, created(first)) })
			wg.Go(func() { badErr = db.groupTx(ctx, tc.bad) })
			wg.Go(func() { lastErr = db.CreateToken(ctx, last, created(last)) })
			<-queued
			release()
			wg.Wait()
			if firstErr == nil || badErr == nil || lastErr == nil {
				t.Errorf("writes of a round that failed = %v, %v, %v; want three errors", firstErr, badErr, lastErr)
			}
			if diff := cmp.Diff(stored{}, storedOf(t, db, first, last), cmp.AllowUnexported(stored{})); diff != "" {
				t.Errorf("stored (-want +got):\n%s", diff)
			}
			after := groupToken(3, u.ID)
			if err := db.CreateToken(ctx, after, created(after)); err != nil {
				t.Errorf("CreateToken() after the round failed = %v", err)
			}
		})
	}
}

// TestGroupCommitPanic: a write that panics panics its caller, not the
// writer, and the rest of its round is committed.
func TestGroupCommitPanic(t *testing.T) {
	db := open(t)
	ctx := t.Context()
	u := groupUser(t, db)
	release := holdWriter(t, db, ctx, nil)
	queued := awaitQueued(db, 2)
	var panicked any
	var createErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		defer func() { panicked = recover() }()
		db.groupTx(ctx, func(ctx context.Context, tx *batchTx) error {
			if err := insertToken(ctx, tx, groupToken(1, u.ID)); err != nil {
				return err
			}
			panic("bug")
		})
	})
	tok := groupToken(2, u.ID)
	wg.Go(func() { createErr = db.CreateToken(ctx, tok, created(tok)) })
	<-queued
	release()
	wg.Wait()
	if panicked != "bug" {
		t.Errorf("the caller of a write that panics recovered %v, want %q", panicked, "bug")
	}
	if createErr != nil {
		t.Errorf("CreateToken() in the round of a panic = %v", createErr)
	}
	want := stored{tokens: []string{"token 2"}, audited: []string{"token 2"}, events: 1}
	if diff := cmp.Diff(want, storedOf(t, db, groupToken(1, u.ID), tok), cmp.AllowUnexported(stored{})); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}
}

// TestGroupCommitBeforeMigrate: before the schema exists, the writer
// cannot prepare the statements of a create, and the create fails; once
// it exists, creates work, and the writer has prepared them.
func TestGroupCommitBeforeMigrate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.CreateToken(t.Context(), groupToken(1, 1)); err == nil {
		t.Fatal("CreateToken() before Migrate = nil, want an error")
	}
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate() = %v", err)
	}
	u := groupUser(t, db)
	if err := db.CreateToken(t.Context(), groupToken(1, u.ID)); err != nil {
		t.Errorf("CreateToken() after Migrate = %v", err)
	}
	db.group.mu.Lock()
	prepared := len(db.group.stmts)
	db.group.mu.Unlock()
	if want := len(createQueries) + 3; prepared != want {
		t.Errorf("after a create, the writer has %d statements prepared, want %d (the create's and the savepoints')", prepared, want)
	}
}

// eventsAfter returns the kind and ref of the events after id last, in
// order.
func eventsAfter(t *testing.T, db *DB, last int64) []string {
	t.Helper()
	rows, err := db.read.QueryContext(t.Context(), `SELECT kind, ref FROM events WHERE id > ? ORDER BY id`, last)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var kind, ref string
		if err := rows.Scan(&kind, &ref); err != nil {
			t.Fatal(err)
		}
		out = append(out, kind+" "+ref)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// lastEvent returns the id of the last event stored.
func lastEvent(t *testing.T, db *DB) int64 {
	t.Helper()
	var last int64
	if err := db.read.QueryRowContext(t.Context(), `SELECT coalesce(max(id), 0) FROM events`).Scan(&last); err != nil {
		t.Fatal(err)
	}
	return last
}

// TestGroupCommitEvents: a round publishes the event of each create it
// commits, each distinct event once, in the order first published; a
// create that fails publishes nothing.
func TestGroupCommitEvents(t *testing.T) {
	db := open(t)
	ctx := t.Context()
	var users []*latchkey.User
	for _, name := range []string{"ann", "bob", "cy"} {
		u := &latchkey.User{Username: name, Email: name + "@example.com", Status: latchkey.StatusActive}
		if err := db.CreateUser(ctx, u); err != nil {
			t.Fatalf("CreateUser(%s) = %v", name, err)
		}
		users = append(users, u)
	}
	ann, bob, cy := users[0], users[1], users[2]
	taken := groupToken(1, ann.ID)
	if err := db.CreateToken(ctx, taken); err != nil {
		t.Fatal(err)
	}
	last := lastEvent(t, db)

	creates := []struct {
		tok *latchkey.Token
		ok  bool
	}{
		{groupToken(2, ann.ID), true},
		{groupToken(1, bob.ID), false}, // the id is taken: bob's event is not published
		{groupToken(3, ann.ID), true},
		{nil, false}, // a write that publishes, then fails
		{groupToken(4, cy.ID), true},
		{groupToken(5, ann.ID), true},
	}
	failing := func(ctx context.Context, tx *batchTx) error {
		tx.Publish(latchkey.Event{Kind: latchkey.EventUserChanged, ID: strconv.FormatInt(bob.ID, 10)})
		return errors.New("failed after publishing")
	}
	commits := recordCommits(db)
	release := holdWriter(t, db, ctx, nil)
	lengths := make(chan int, len(creates))
	db.group.queued = func(n int) { lengths <- n }
	errs := make([]error, len(creates))
	var wg sync.WaitGroup
	for i, c := range creates {
		// One after the other, so that the round runs them in this order.
		wg.Go(func() {
			if c.tok == nil {
				errs[i] = db.groupTx(ctx, failing)
				return
			}
			errs[i] = db.CreateToken(ctx, c.tok, created(c.tok))
		})
		if n := <-lengths; n != i+1 {
			t.Fatalf("%d writes queued, want %d", n, i+1)
		}
	}
	release()
	wg.Wait()
	for i, c := range creates {
		if (errs[i] == nil) != c.ok {
			t.Errorf("write %d = %v, want success %t", i, errs[i], c.ok)
		}
	}
	if got, want := commits(), []int{1, 4}; !slices.Equal(got, want) {
		t.Errorf("writes per COMMIT = %v, want %v", got, want)
	}
	want := []string{
		fmt.Sprintf("%s %d", latchkey.EventTokenCreated, ann.ID),
		fmt.Sprintf("%s %d", latchkey.EventTokenCreated, cy.ID),
	}
	if diff := cmp.Diff(want, eventsAfter(t, db, last)); diff != "" {
		t.Errorf("events of the round (-want +got):\n%s", diff)
	}
}

// TestGroupCommitEventRefused: when a round cannot write its events,
// none of its creates is stored, and each fails.
func TestGroupCommitEventRefused(t *testing.T) {
	db := open(t)
	ctx := t.Context()
	u := groupUser(t, db)
	if _, err := db.write.ExecContext(ctx, `CREATE TRIGGER refuse BEFORE INSERT ON events
		BEGIN SELECT RAISE(ABORT, 'refused'); END`); err != nil {
		t.Fatal(err)
	}
	release := holdWriter(t, db, ctx, nil)
	queued := awaitQueued(db, 2)
	first, second := groupToken(1, u.ID), groupToken(2, u.ID)
	var firstErr, secondErr error
	var wg sync.WaitGroup
	wg.Go(func() { firstErr = db.CreateToken(ctx, first, created(first)) })
	wg.Go(func() { secondErr = db.CreateToken(ctx, second, created(second)) })
	<-queued
	release()
	wg.Wait()
	if firstErr == nil || secondErr == nil {
		t.Errorf("creates of a round whose event is refused = %v, %v; want two errors", firstErr, secondErr)
	}
	// Alone, as well.
	alone := groupToken(3, u.ID)
	if err := db.CreateToken(ctx, alone, created(alone)); err == nil {
		t.Error("CreateToken(alone, its event refused) = nil, want an error")
	}
	if diff := cmp.Diff(stored{}, storedOf(t, db, first, second, alone), cmp.AllowUnexported(stored{})); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}
}

// TestGroupCommitClose: closing the store while creates wait for the
// writer ends each of them, with its outcome: those that return nil are
// stored, each with its audit record, and those that fail left nothing.
// Close returns, and a create after it fails.
func TestGroupCommitClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	u := groupUser(t, db)
	held := groupToken(1, u.ID)
	release := holdWriter(t, db, ctx, func(ctx context.Context, tx *batchTx) error {
		return insertToken(ctx, tx, held)
	})
	waiting := []*latchkey.Token{groupToken(2, u.ID), groupToken(3, u.ID), groupToken(4, u.ID)}
	queued := awaitQueued(db, len(waiting))
	errs := make([]error, len(waiting))
	var wg sync.WaitGroup
	for i, tok := range waiting {
		wg.Go(func() { errs[i] = db.CreateToken(ctx, tok, created(tok)) })
	}
	<-queued
	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	release()
	wg.Wait()
	<-closed
	if err := db.CreateToken(ctx, groupToken(5, u.ID)); err == nil {
		t.Error("CreateToken() after Close = nil, want an error")
	}

	again := openPath(t, path)
	var want stored
	for i, tok := range waiting {
		if errs[i] == nil {
			want.tokens = append(want.tokens, tok.Name)
			want.audited = append(want.audited, tok.Name)
		}
	}
	got := storedOf(t, again, waiting...)
	got.events = 0
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(stored{})); diff != "" {
		t.Errorf("stored after Close, creates returned %v (-want +got):\n%s", errs, diff)
	}
	if _, err := again.Token(ctx, held.ID); err != nil {
		t.Errorf("the write running when Close was called: Token() = %v, want it committed", err)
	}
}
