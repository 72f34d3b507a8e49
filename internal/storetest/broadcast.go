package storetest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/latchkey/latchkey"
)

// BroadcasterHarness is what the Broadcaster suite needs of a store: a
// way to make databases and open handles on them, and the faults the
// store can stage.
type BroadcasterHarness struct {
	// New makes a new, migrated database of the test's own and returns a
	// function that opens a handle on it, as another process would. The
	// handles close when the test ends.
	New func(t *testing.T) (open func() latchkey.Broadcaster)

	// Poll, for a store whose subscribers poll for events, makes the
	// subscriber on the handle sub poll, and returns once a whole poll
	// has run since the call: the suite never waits for a poll to come.
	// nil for a store that pushes events to its subscribers.
	Poll func(t *testing.T, sub latchkey.Broadcaster)

	// Unreadable publishes e on the handle pub so that subscribers fail
	// to read it, having read the events before it, until mend is
	// called: a read of events that fails part way. nil skips the test.
	Unreadable func(t *testing.T, pub latchkey.Broadcaster, e latchkey.Event) (mend func())

	// Disconnect breaks the connection on which the subscriber on the
	// handle sub listens. nil, for a store whose subscribers hold no
	// connection to lose, skips the test.
	Disconnect func(t *testing.T, sub latchkey.Broadcaster)
}

// hearWithin bounds every wait for an event: a test that waits this long
// has failed. It measures nothing.
const hearWithin = time.Minute

// Broadcaster runs the conformance suite of latchkey.Broadcaster, the
// events between the processes that share a database, against the
// databases h makes:
//
//	func TestBroadcaster(t *testing.T) {
//		storetest.Broadcaster(t, storetest.BroadcasterHarness{New: …, Poll: …})
//	}
//
// A subscriber hears EventResync first, then every event published after
// it, in order, once; an event is lost only where a resync says that
// events may have been.
func Broadcaster(t *testing.T, h BroadcasterHarness) {
	t.Run("InOrder", func(t *testing.T) {
		open := h.New(t)
		pub, sub := open(), open()
		before := event(0)
		if _, err := pub.Publish(t.Context(), before); err != nil {
			t.Fatalf("Publish(%v) = %v", before, err)
		}
		l := listen(t, h, pub, sub)
		for i := 1; i <= 3; i++ {
			l.publish(event(i))
		}
		l.poll()
		l.await(event(3), 1)
		// The event published before Subscribe began is not replayed.
		want := []latchkey.Event{resync, event(1), event(2), event(3)}
		if diff := cmp.Diff(want, l.heard()); diff != "" {
			t.Errorf("heard (-want +got):\n%s", diff)
		}
	})

	t.Run("OwnDatabaseOnly", func(t *testing.T) {
		l, other := listenNew(t, h), h.New(t)()
		if _, err := other.Publish(t.Context(), event(0)); err != nil {
			t.Fatalf("Publish(%v) on another database = %v", event(0), err)
		}
		l.publish(event(1))
		l.poll()
		l.await(event(1), 1)
		// The other database's event, published first, would have come
		// first.
		want := []latchkey.Event{resync, event(1)}
		if diff := cmp.Diff(want, l.heard()); diff != "" {
			t.Errorf("heard (-want +got):\n%s", diff)
		}
	})

	t.Run("AfterACanceledPublish", func(t *testing.T) {
		// The first Publish of a process (say, the command line's) has a
		// context that ends before it is done: publishing works after it.
		l := listenNew(t, h) // its publishing handle is not used yet
		canceled, cancel := context.WithCancel(t.Context())
		cancel()
		_, _ = l.pub.Publish(canceled, event(0)) // heard or not: the context ended
		l.publish(event(1))
		l.poll()
		l.await(event(1), 1)
	})

	t.Run("CreateTokenTells", func(t *testing.T) {
		// CreateToken publishes EventTokenCreated in its own transaction:
		// heard once it commits, never when it fails.
		l := listenNew(t, h)
		st, ok := l.pub.(latchkey.Store)
		if !ok {
			t.Fatalf("%T publishes events but is no Store", l.pub)
		}
		u := createUser(t, st, newUser("told"))
		createToken(t, st, newToken(1, u.ID))
		created := latchkey.Event{Kind: latchkey.EventTokenCreated, ID: strconv.FormatInt(u.ID, 10)}
		l.log(false, created)
		if err := st.CreateToken(t.Context(), newToken(1, u.ID)); latchkey.ErrorCode(err) != latchkey.ECONFLICT {
			t.Fatalf("CreateToken of an id that exists = %v, want ECONFLICT", err)
		}
		// Nor when its parent is revoked, or its record's notification is
		// refused after the token and the record are written.
		revoked := createToken(t, st, newToken(2, u.ID))
		l.log(false, created)
		if _, _, err := st.RevokeToken(t.Context(), revoked.ID, at(time.Minute), latchkey.ReasonRevoked); err != nil {
			t.Fatal(err)
		}
		if err := st.CreateToken(t.Context(), childOf(3, u.ID, revoked)); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
			t.Fatalf("CreateToken of a child of a revoked token = %v, want EUNAUTHENTICATED", err)
		}
		refused := notifyRecord(latchkey.AuditTokenCreated, latchkey.NoteTokenCreated, u.ID+1000, tokenID(4), latchkey.ActorOperator, nil)
		if err := st.CreateToken(t.Context(), newToken(4, u.ID), refused); err == nil {
			t.Fatal("CreateToken whose notification names no user = nil, want an error")
		}
		l.publish(event(1))
		l.poll()
		l.await(event(1), 1)
		want := []latchkey.Event{resync, created, created, event(1)}
		if diff := cmp.Diff(want, l.heard()); diff != "" {
			t.Errorf("heard (-want +got):\n%s", diff)
		}
	})

	t.Run("ReadFailsPartWay", func(t *testing.T) {
		if h.Unreadable == nil {
			t.Skip("the store stages no unreadable event")
		}
		l := listenNew(t, h)
		l.publish(event(1))
		l.publish(event(2))
		l.log(false, event(3))
		mend := h.Unreadable(t, l.pub, event(3))
		l.publish(event(4))
		l.poll() // reads 1 and 2, then fails on 3
		mend()
		l.poll()
		l.await(event(4), 1)
		l.check()
	})

	t.Run("Reconnect", func(t *testing.T) {
		if h.Disconnect == nil {
			t.Skip("the store's subscribers hold no connection to lose")
		}
		l := listenNew(t, h)
		l.publish(event(1))
		h.Disconnect(t, l.sub)
		l.publish(event(2))
		l.await(resync, 2)
		l.publish(event(3))
		l.poll()
		l.await(event(3), 1)
		l.check()
	})

	t.Run("Cancel", func(t *testing.T) {
		open := h.New(t)
		sub := open()
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- sub.Subscribe(ctx, func(latchkey.Event) {}) }()
		cancel()
		select {
		case err := <-done:
			if err != context.Canceled {
				t.Errorf("Subscribe() after its context was canceled = %v, want context.Canceled", err)
			}
		case <-time.After(hearWithin):
			t.Fatalf("Subscribe() did not return within %v of its context's end", hearWithin)
		}
	})
}

// resync is the event that says events may have been missed.
var resync = latchkey.Event{Kind: latchkey.EventResync}

// event returns the n-th event of the fixtures: each differs from the
// others, and kinds and users vary.
func event(n int) latchkey.Event {
	kinds := []latchkey.EventKind{latchkey.EventTokenRevoked, latchkey.EventUserChanged, latchkey.EventTokenCreated}
	return latchkey.Event{Kind: kinds[n%len(kinds)], ID: fmt.Sprintf("e%d", n), UserID: int64(n)}
}

// A listener is a subscriber that runs until the test ends, and the log,
// in one order, of what the test published and what the subscriber
// heard.
type listener struct {
	t        *testing.T
	h        BroadcasterHarness
	pub, sub latchkey.Broadcaster

	mu      sync.Mutex
	entries []entry
	lastSeq int64                    // the last Seq Publish returned
	seqs    map[latchkey.Event]int64 // what Publish returned, by event published
	alive   int                      // how many times the subscriber heard EventAlive
	changed chan struct{}            // has a value when entries changed since it was read
}

// An entry of a listener's log: an event heard or published.
type entry struct {
	heard bool
	e     latchkey.Event
}

// listenNew makes a database, and listens on it, on a handle of its own,
// for what another handle publishes.
func listenNew(t *testing.T, h BroadcasterHarness) *listener {
	t.Helper()
	open := h.New(t)
	return listen(t, h, open(), open())
}

// listen subscribes on the handle sub until the test ends, and returns
// once the subscriber said resync first; events are published on the
// handle pub.
func listen(t *testing.T, h BroadcasterHarness, pub, sub latchkey.Broadcaster) *listener {
	t.Helper()
	l := &listener{t: t, h: h, pub: pub, sub: sub, changed: make(chan struct{}, 1), seqs: map[latchkey.Event]int64{}}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- sub.Subscribe(ctx, l.hear) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Subscribe() after its context was canceled = %v, want context.Canceled", err)
		}
	})
	l.await(resync, 1)
	return l
}

// hear logs an event the subscriber heard, its Seq checked against what
// Publish returned and then left out, and counts EventAlive apart.
func (l *listener) hear(e latchkey.Event) {
	if e.Kind == latchkey.EventAlive {
		l.mu.Lock()
		l.alive++
		l.mu.Unlock()
		return
	}
	seq := e.Seq
	e.Seq = 0
	l.mu.Lock()
	want, published := l.seqs[e]
	l.mu.Unlock()
	if published && seq != want {
		l.t.Errorf("heard %v with Seq %d, want %d, what Publish returned", e, seq, want)
	}
	if e.Kind == latchkey.EventResync && seq != 0 {
		l.t.Errorf("heard a resync with Seq %d, want 0", seq)
	}
	l.log(true, e)
}

// log appends an event heard or published.
func (l *listener) log(heard bool, e latchkey.Event) {
	l.mu.Lock()
	l.entries = append(l.entries, entry{heard, e})
	l.mu.Unlock()
	select {
	case l.changed <- struct{}{}:
	default:
	}
}

// publish publishes e on the listener's publishing handle.
func (l *listener) publish(e latchkey.Event) {
	l.t.Helper()
	l.log(false, e)
	seq, err := l.pub.Publish(l.t.Context(), e)
	if err != nil {
		l.t.Fatalf("Publish(%v) = %v", e, err)
	}
	l.mu.Lock()
	if seq <= l.lastSeq {
		l.t.Errorf("Publish(%v) = seq %d, after seq %d: want a growing number", e, seq, l.lastSeq)
	}
	l.lastSeq = seq
	l.seqs[e] = seq
	l.mu.Unlock()
}

// poll makes the subscriber poll, if it polls.
func (l *listener) poll() {
	if l.h.Poll != nil {
		l.h.Poll(l.t, l.sub)
	}
}

// heard returns the events heard so far.
func (l *listener) heard() []latchkey.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var heard []latchkey.Event
	for _, en := range l.entries {
		if en.heard {
			heard = append(heard, en.e)
		}
	}
	return heard
}

// await waits until e has been heard n times.
func (l *listener) await(e latchkey.Event, n int) {
	l.t.Helper()
	deadline := time.NewTimer(hearWithin)
	defer deadline.Stop()
	for {
		heard := l.heard()
		if count(heard, e) >= n {
			return
		}
		select {
		case <-l.changed:
		case <-deadline.C:
			l.t.Fatalf("heard %v within %v, want %v heard %d times", heard, hearWithin, e, n)
		}
	}
}

// count returns how many times events holds e.
func count(events []latchkey.Event, e latchkey.Event) int {
	n := 0
	for _, x := range events {
		if x == e {
			n++
		}
	}
	return n
}

// check reports, from the log, an event heard that was not published
// before, heard twice or out of order, and an event skipped: published,
// not heard, with a later event heard and no resync heard since it was
// published.
func (l *listener) check() {
	l.t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	type published struct {
		e       latchkey.Event
		covered bool // a resync was heard since
	}
	var pending []published // published, not heard yet, in order
	for _, en := range l.entries {
		switch {
		case !en.heard:
			pending = append(pending, published{e: en.e})
		case en.e == resync:
			for i := range pending {
				pending[i].covered = true
			}
		default:
			i := slices.IndexFunc(pending, func(p published) bool { return p.e == en.e })
			if i < 0 {
				l.t.Errorf("heard %v, which was not published since, or was heard already; the log:\n%s", en.e, l.format())
				continue
			}
			var skipped []latchkey.Event
			for _, p := range pending[:i] {
				if !p.covered {
					skipped = append(skipped, p.e)
				}
			}
			if len(skipped) > 0 {
				l.t.Errorf("heard %v, but never %v, published before it, and no resync said so; the log:\n%s", en.e, skipped, l.format())
			}
			pending = pending[i+1:]
		}
	}
}

// format returns the log, an entry a line. The caller holds l.mu.
func (l *listener) format() string {
	var b strings.Builder
	for _, en := range l.entries {
		what := "published"
		if en.heard {
			what = "heard"
		}
		fmt.Fprintf(&b, "\t%s %+v\n", what, en.e)
	}
	return b.String()
}
