package service

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/jwt"
	"github.com/latchkey/latchkey/internal/password"
	"github.com/latchkey/latchkey/internal/sqlite"
	"github.com/latchkey/latchkey/internal/sqlitetest"
)

// pausable is a SQLite store whose subscription can be frozen: while
// paused, it delivers nothing, and what it would have delivered is lost
// for good, the worst a server stopped with SIGSTOP could meet.
type pausable struct {
	*sqlite.DB
	paused atomic.Bool
	polls  atomic.Int64 // polls done (EventAlive), paused or not
}

func (p *pausable) pause()  { p.paused.Store(true) }
func (p *pausable) resume() { p.paused.Store(false) }

func (p *pausable) Subscribe(ctx context.Context, f func(latchkey.Event)) error {
	return p.DB.Subscribe(ctx, func(e latchkey.Event) {
		if e.Kind == latchkey.EventAlive {
			defer p.polls.Add(1)
		}
		if !p.paused.Load() {
			f(e)
		}
	})
}

// processes returns a server and a command line on one SQLite file, as
// two processes would be: the server runs (it holds a lease, hears events
// and acknowledges them) until the test ends; the command line does not.
func processes(t *testing.T, cfg Config) (server *Service, store *pausable, cli *Service, settled func() []Settlement, stop func()) {
	t.Helper()
	path := sqlitetest.Path(t)
	open := func() *sqlite.DB {
		db, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	sealer, err := jwt.NewSealer([]byte("service test secret, long enough"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Password = &password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	store = &pausable{DB: open()}
	serverCfg := cfg
	serverCfg.ServerName = "server"
	server, err = New(t.Context(), store, sealer, serverCfg)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []Settlement
	cliCfg := cfg
	cliCfg.Settled = func(st Settlement) {
		mu.Lock()
		got = append(got, st)
		mu.Unlock()
	}
	cli, err = New(t.Context(), open(), sealer, cliCfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- server.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	eventually(t, "the server holds its lease", server.holdsLease)
	return server, store, cli, func() []Settlement {
		mu.Lock()
		defer mu.Unlock()
		out := got
		got = nil
		return out
	}, stop
}

// TestSettleBeforeTheAnswer: a token revoked at the command line is
// refused by the running server the instant the command returns, though
// the server had it cached: the command waited for the server's
// acknowledgement. No waiting in the test.
func TestSettleBeforeTheAnswer(t *testing.T) {
	server, _, cli, settled, _ := processes(t, Config{})
	ctx := t.Context()
	u := cli.mustUser(t, "carol")
	for round := range 50 {
		tok, raw := cli.mustToken(t, u)
		if _, err := server.Authenticate(ctx, raw, latchkey.Origin{}); err != nil {
			t.Fatalf("round %d: the server refused a new token: %v", round, err)
		}
		if _, err := server.Authenticate(ctx, raw, latchkey.Origin{}); err != nil {
			t.Fatal(err) // and now it is cached
		}
		if _, err := cli.OperatorRevokeToken(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := server.Authenticate(ctx, raw, latchkey.Origin{}); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
			t.Fatalf("round %d: the server accepted a token revoked at the command line after the command returned: %v", round, err)
		}
	}
	for _, st := range settled() {
		if len(st.Acknowledged) != 1 || st.Acknowledged[0].Name != "server" || len(st.Lapsed) != 0 || st.Err != nil {
			t.Errorf("a revocation settled as %+v, want acknowledged by the server", st)
		}
	}

	// A user disabled: the same.
	_, raw := cli.mustToken(t, u)
	if _, err := server.Authenticate(ctx, raw, latchkey.Origin{}); err != nil {
		t.Fatal(err)
	}
	inactive := latchkey.StatusInactive
	if _, err := cli.UpdateUser(ctx, u.ID, UserChange{UserUpdate: latchkey.UserUpdate{Status: &inactive}}); err != nil {
		t.Fatal(err)
	}
	if _, err := server.Authenticate(ctx, raw, latchkey.Origin{}); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
		t.Errorf("the server accepted the token of a user disabled at the command line: %v", err)
	}
}

// TestSettleFrozenServer: a server that hears nothing (frozen) delays a
// revocation no longer than its lease, and, its lease run out, answers no
// verification from its cache: its first answer after is a refusal.
func TestSettleFrozenServer(t *testing.T) {
	server, store, cli, settled, _ := processes(t, Config{Lease: 300 * time.Millisecond})
	ctx := t.Context()
	u := cli.mustUser(t, "dave")
	// Two tokens the server has cached: one asked for while it is frozen,
	// one only once it is back.
	asked, askedRaw := cli.mustToken(t, u)
	later, laterRaw := cli.mustToken(t, u)
	for _, raw := range []string{askedRaw, laterRaw} {
		if _, err := server.Authenticate(ctx, raw, latchkey.Origin{}); err != nil {
			t.Fatal(err)
		}
	}
	store.pause()
	for _, id := range []string{asked.ID, later.ID} {
		if _, err := cli.OperatorRevokeToken(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	// The revocations answered without the server: its lease ran out
	// (before they began, or while they waited).
	for _, st := range settled() {
		if len(st.Acknowledged) != 0 || st.Err != nil {
			t.Errorf("a revocation a frozen server never heard settled as %+v, want it not acknowledged", st)
		}
	}
	eventually(t, "the frozen server's lease runs out here", func() bool { return !server.holdsLease() })
	if _, err := server.Authenticate(ctx, askedRaw, latchkey.Origin{}); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
		t.Errorf("the frozen server, its lease run out, accepted the revoked token from its cache: %v", err)
	}
	// Two whole polls after the revocations: they are lost for good.
	polled := store.polls.Load()
	eventually(t, "two more polls", func() bool { return store.polls.Load() >= polled+2 })
	store.resume()
	eventually(t, "the server holds its lease again", server.holdsLease)
	// It never heard the revocations: it dropped its caches when it took
	// its lease again.
	if _, err := server.Authenticate(ctx, laterRaw, latchkey.Origin{}); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
		t.Errorf("the server, back, accepted a token revoked while it was frozen: %v", err)
	}
}

// TestSettleStoppedServer: a server that stops gives its lease up before
// Run returns: nothing waits for it afterwards.
func TestSettleStoppedServer(t *testing.T) {
	_, _, cli, settled, stop := processes(t, Config{Lease: time.Minute})
	u := cli.mustUser(t, "frank")
	tok, _ := cli.mustToken(t, u)
	settled()
	stop()
	if _, err := cli.OperatorRevokeToken(t.Context(), tok.ID); err != nil {
		t.Fatal(err)
	}
	for _, st := range settled() {
		if len(st.Acknowledged)+len(st.Lapsed)+len(st.Unanswered) != 0 || st.Err != nil {
			t.Errorf("a revocation after the only server stopped settled as %+v, want no server to wait for", st)
		}
	}
}

// TestSettleAlone: with one server, nothing waits for anyone, and a
// server without a lease store (a single process) always counts as
// current.
func TestSettleAlone(t *testing.T) {
	svc, _ := newTestService(t, Config{Settled: func(st Settlement) {
		if len(st.Acknowledged)+len(st.Lapsed) != 0 {
			t.Errorf("a change on the only process settled as %+v, want no other server", st)
		}
	}})
	u := svc.mustUser(t, "erin")
	tok, raw := svc.mustToken(t, u)
	if !svc.current() {
		t.Errorf("a service that holds no lease is not current")
	}
	if _, err := svc.OperatorRevokeToken(t.Context(), tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(t.Context(), raw, latchkey.Origin{}); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
		t.Errorf("Authenticate(revoked) = %v", err)
	}
}

// TestNewTokensNotAcknowledged: a server acknowledges the events a change
// waits for, and not new tokens, which nothing waits for: a stream of
// creates would otherwise keep acknowledgements always pending, and a
// server with acknowledgements pending stops renewing its lease.
func TestNewTokensNotAcknowledged(t *testing.T) {
	svc, _ := newTestService(t, Config{})
	svc.member.start()
	pending := func() []int64 {
		svc.member.mu.Lock()
		defer svc.member.mu.Unlock()
		return slices.Clone(svc.member.acks)
	}
	svc.heard(t.Context(), latchkey.Event{Kind: latchkey.EventTokenCreated, ID: "1", Seq: 7})
	if got := pending(); len(got) != 0 {
		t.Errorf("a new token's event left acknowledgements %v pending, want none", got)
	}
	svc.heard(t.Context(), latchkey.Event{Kind: latchkey.EventTokenRevoked, ID: "t", Seq: 8})
	if got := pending(); !slices.Equal(got, []int64{8}) {
		t.Errorf("a revocation's event left %v pending, want [8]", got)
	}
	for _, k := range []latchkey.EventKind{latchkey.EventTokenRevoked, latchkey.EventUserChanged, latchkey.EventClientRevoked, latchkey.EventKeysChanged, latchkey.EventPurge} {
		if !waitedFor(k) {
			t.Errorf("a change publishing %s does not wait for it", k)
		}
	}
	if waitedFor(latchkey.EventTokenCreated) {
		t.Error("a create waits for every server to hear of it")
	}
}
