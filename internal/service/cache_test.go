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

// newTestService is a service on a real SQLite database.
func newTestService(t *testing.T, cfg Config) (*Service, *sqlite.DB) {
	t.Helper()
	st := sqlitetest.Open(t)
	sealer, err := jwt.NewSealer([]byte("service test secret, long enough"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Password = &password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	svc, err := New(t.Context(), st, sealer, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return svc, st
}

func (s *Service) mustUser(t *testing.T, name string) *latchkey.User {
	t.Helper()
	u, err := s.CreateUser(t.Context(), NewUser{Username: name, Email: name + "@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (s *Service) mustToken(t *testing.T, u *latchkey.User) (*latchkey.Token, string) {
	t.Helper()
	name := "t"
	tok, jwt, err := s.OperatorCreateToken(t.Context(), u, TokenRequest{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	return tok, jwt
}

func TestCacheInvalidation(t *testing.T) {
	svc, st := newTestService(t, Config{})
	ctx := t.Context()
	u := svc.mustUser(t, "bob")
	_, raw := svc.mustToken(t, u)
	auth := func() error { _, err := svc.Authenticate(ctx, raw, latchkey.Origin{}); return err }
	if err := auth(); err != nil {
		t.Fatal(err)
	}
	if svc.cache.len() != 1 {
		t.Fatalf("cache holds %d tokens after one authentication, want 1", svc.cache.len())
	}

	inactive, active := latchkey.StatusInactive, latchkey.StatusActive
	if _, err := svc.UpdateUser(ctx, u.ID, UserChange{UserUpdate: latchkey.UserUpdate{Status: &inactive}}); err != nil {
		t.Fatal(err)
	}
	if err := auth(); err == nil {
		t.Fatal("a disabled user's cached token still authenticates")
	}
	if err := auth(); err == nil {
		t.Fatal("a disabled user's token authenticates from the refusal cache")
	}
	if _, err := svc.UpdateUser(ctx, u.ID, UserChange{UserUpdate: latchkey.UserUpdate{Status: &active}}); err != nil {
		t.Fatal(err)
	}
	if err := auth(); err != nil {
		t.Fatalf("enabled again, the token is still refused (the refusal was cached): %v", err)
	}

	// A key rotation purges; old tokens still verify with the retired key.
	if _, err := svc.RotateKey(ctx, jwt.DefaultAlgorithm); err != nil {
		t.Fatal(err)
	}
	if svc.cache.len() != 0 {
		t.Errorf("cache holds %d tokens after a key rotation, want 0", svc.cache.len())
	}
	if err := auth(); err != nil {
		t.Errorf("a token of the retired key after rotation: %v", err)
	}

	// A revoked client: its tokens are refused at once.
	if _, err := st.RevokeClient(ctx, latchkey.PersonalAccessClientID, svc.now()); err != nil {
		t.Fatal(err)
	}
	svc.publish(ctx, latchkey.Event{Kind: latchkey.EventClientRevoked, ID: "1"})
	if err := auth(); err == nil {
		t.Error("a revoked client's cached token still authenticates")
	}
}

// TestCacheOtherProcess: a change another process makes to the database
// (here a second service on the same file, as the command line is)
// reaches a running service through the events it polls.
func TestCacheOtherProcess(t *testing.T) {
	// A clock that stands still: nothing cached expires, so only the
	// events can bring the change.
	svc, st := newTestService(t, Config{Now: stillClock()})
	other, err := New(t.Context(), st, svc.sealer, svc.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	go func() { _ = svc.Run(ctx) }()
	u := svc.mustUser(t, "carol")
	tok, raw := svc.mustToken(t, u)
	if _, err := svc.Authenticate(ctx, raw, latchkey.Origin{}); err != nil {
		t.Fatal(err)
	}
	if _, err := other.OperatorRevokeToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a token revoked by another process refused", func() bool {
		_, err := svc.Authenticate(ctx, raw, latchkey.Origin{})
		return err != nil
	})
}

func TestCacheDisabled(t *testing.T) {
	svc, _ := newTestService(t, Config{CacheSize: -1})
	u := svc.mustUser(t, "dave")
	_, raw := svc.mustToken(t, u)
	for range 3 {
		if _, err := svc.Authenticate(t.Context(), raw, latchkey.Origin{}); err != nil {
			t.Fatal(err)
		}
	}
	if svc.cache.len() != 0 {
		t.Errorf("a disabled cache holds %d tokens", svc.cache.len())
	}
}

// TestCacheBounded: the cache never holds more than its size.
func TestCacheBounded(t *testing.T) {
	svc, _ := newTestService(t, Config{CacheSize: 5})
	u := svc.mustUser(t, "erin")
	for range 12 {
		_, raw := svc.mustToken(t, u)
		if _, err := svc.Authenticate(t.Context(), raw, latchkey.Origin{}); err != nil {
			t.Fatal(err)
		}
	}
	if n := svc.cache.len(); n != 5 {
		t.Errorf("cache of size 5 holds %d", n)
	}
	if n := len(svc.cache.good.byIndex); n != 5 {
		t.Errorf("cache index holds %d ids, want 5 (evictions must clean it)", n)
	}
}

// TestRowCache: a token shown from memory is never shown unrevoked after
// its revocation (here, or by another process), and shows its last use
// once that is written.
func TestRowCache(t *testing.T) {
	// A clock that stands still: nothing cached expires, so only the
	// events can bring the change.
	svc, st := newTestService(t, Config{Now: stillClock()})
	ctx := t.Context()
	go func() { _ = svc.Run(ctx) }()
	u := svc.mustUser(t, "rows")
	tok, raw := svc.mustToken(t, u)
	show := func() *latchkey.Token {
		t.Helper()
		got, err := svc.Token(ctx, u, tok.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if show().Revoked || show().LastUsedAt != nil {
		t.Fatal("a new token shows revoked or used")
	}
	if _, err := svc.Authenticate(ctx, raw, latchkey.Origin{}); err != nil {
		t.Fatal(err)
	}
	if err := svc.FlushUsage(ctx); err != nil {
		t.Fatal(err)
	}
	if show().LastUsedAt == nil {
		t.Error("after its use was written, the cached row still shows no last use")
	}
	if _, err := svc.RevokeToken(ctx, Operator(), u, tok.ID); err != nil {
		t.Fatal(err)
	}
	if !show().Revoked {
		t.Error("a revoked token is shown unrevoked from the row cache")
	}

	// Revoked by another process: heard through the events table.
	other, err := New(ctx, st, svc.sealer, svc.cfg)
	if err != nil {
		t.Fatal(err)
	}
	tok2, _ := svc.mustToken(t, u)
	if got, _ := svc.Token(ctx, u, tok2.ID); got.Revoked {
		t.Fatal("new token shows revoked")
	}
	if _, err := other.OperatorRevokeToken(ctx, tok2.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a token revoked by another process shown revoked", func() bool {
		got, _ := svc.Token(ctx, u, tok2.ID)
		return got.Revoked
	})
}

// TestListCache: a list served from memory shows a new token, and hides a
// revoked one, at once here and within a second when another process
// made the change.
func TestListCache(t *testing.T) {
	// A clock that stands still: nothing cached expires, so only the
	// events can bring the change.
	svc, st := newTestService(t, Config{Now: stillClock()})
	ctx := t.Context()
	go func() { _ = svc.Run(ctx) }()
	other, err := New(ctx, st, svc.sealer, svc.cfg)
	if err != nil {
		t.Fatal(err)
	}
	u := svc.mustUser(t, "lists")
	ids := func() []string {
		t.Helper()
		ts, total, err := svc.Tokens(ctx, u, ListQuery{Page: 1, PerPage: 100})
		if err != nil || total != len(ts) {
			t.Fatalf("Tokens = %d of %d, %v", len(ts), total, err)
		}
		var out []string
		for _, tok := range ts {
			out = append(out, tok.ID)
		}
		return out
	}
	within := func(what string, ok func() bool) { t.Helper(); eventually(t, what, ok) }
	has := func(id string) bool { return slices.Contains(ids(), id) }

	a, _ := svc.mustToken(t, u)
	if !has(a.ID) {
		t.Fatal("a new token is not listed")
	}
	b, _ := svc.mustToken(t, u) // the list was cached: it must be dropped
	if !has(b.ID) {
		t.Error("a token created after the list was cached is not listed")
	}
	if _, err := svc.RevokeToken(ctx, Operator(), u, a.ID); err != nil {
		t.Fatal(err)
	}
	if has(a.ID) {
		t.Error("a revoked token is still listed from the cache")
	}
	c, _ := other.mustToken(t, u)
	within("a token created by another process", func() bool { return has(c.ID) })
	if _, err := other.OperatorRevokeToken(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	within("a token revoked by another process disappearing", func() bool { return !has(b.ID) })
}

// TestInspectIsNotAUse: a resource server asking about a token checks it
// as Authenticate does, but does not make it look used.
func TestInspectIsNotAUse(t *testing.T) {
	svc, _ := newTestService(t, Config{})
	ctx := t.Context()
	u := svc.mustUser(t, "inspected")
	tok, raw := svc.mustToken(t, u)
	for range 2 { // once checked, once from the cache
		if p, err := svc.Inspect(ctx, raw); err != nil || p.Token.ID != tok.ID {
			t.Fatalf("Inspect = %v, %v", p, err)
		}
	}
	if err := svc.FlushUsage(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := svc.Token(ctx, u, tok.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.LastUsedAt != nil {
		t.Errorf("after Inspect, last used %v, want never", got.LastUsedAt)
	}
	if _, err := svc.RevokeToken(ctx, Operator(), u, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Inspect(ctx, raw); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
		t.Errorf("Inspect of a revoked token: %v, want EUNAUTHENTICATED", err)
	}
}

// gatedStore is a store one of whose reads, once armed, takes its answer
// from the database and then waits until the test lets it go: what it
// returns is what the database held before whatever the test did while it
// waited. It makes the race between a read and a change deterministic.
type gatedStore struct {
	latchkey.Store
	mu      sync.Mutex
	method  string        // the read to hold once, "" for none
	entered chan struct{} // closed when the held read has its answer
	release chan struct{} // closed by the test to let it return
}

// arm holds the next call of method. The test waits on entered, makes its
// change, then calls release.
func (g *gatedStore) arm(method string) (entered <-chan struct{}, release func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.method, g.entered, g.release = method, make(chan struct{}), make(chan struct{})
	return g.entered, sync.OnceFunc(func() { close(g.release) })
}

func (g *gatedStore) hold(method string) {
	g.mu.Lock()
	if g.method != method {
		g.mu.Unlock()
		return
	}
	g.method = ""
	entered, release := g.entered, g.release
	g.mu.Unlock()
	close(entered)
	<-release
}

func (g *gatedStore) Credential(ctx context.Context, id string) (*latchkey.Credential, error) {
	c, err := g.Store.Credential(ctx, id)
	g.hold("Credential")
	return c, err
}

func (g *gatedStore) Token(ctx context.Context, id string) (*latchkey.Token, error) {
	t, err := g.Store.Token(ctx, id)
	g.hold("Token")
	return t, err
}

func (g *gatedStore) Tokens(ctx context.Context, f latchkey.TokenFilter) ([]*latchkey.Token, int, error) {
	ts, n, err := g.Store.Tokens(ctx, f)
	g.hold("Tokens")
	return ts, n, err
}

// newGatedService is a service on a real SQLite database through a
// gatedStore.
func newGatedService(t *testing.T) (*Service, *gatedStore) {
	t.Helper()
	base, st := newTestService(t, Config{})
	g := &gatedStore{Store: st}
	svc, err := New(t.Context(), g, base.sealer, base.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return svc, g
}

// during runs read in a goroutine, held inside the store's method once it
// has its answer, runs change, then lets the read finish and returns its
// error.
func during(t *testing.T, g *gatedStore, method string, read func() error, change func()) error {
	t.Helper()
	entered, release := g.arm(method)
	defer release()
	done := make(chan error, 1)
	go func() { done <- read() }()
	select {
	case <-entered:
	case err := <-done:
		t.Fatalf("the read finished (%v) without calling %s", err, method)
	}
	change()
	release()
	return <-done
}

// TestCacheGuards: a read that began before a change, and finishes after
// it, never leaves what it read in a cache: the token cache (a revocation
// during the check), the refusal cache (a user enabled again during the
// check), the row cache and the list cache (a revocation during the read).
// Each case fails when its cache's generation guard is removed.
func TestCacheGuards(t *testing.T) {
	ctx := t.Context()
	t.Run("verified token", func(t *testing.T) {
		svc, g := newGatedService(t)
		u := svc.mustUser(t, "racer")
		tok, raw := svc.mustToken(t, u)
		err := during(t, g, "Credential",
			func() error { _, err := svc.Authenticate(ctx, raw, latchkey.Origin{}); return err },
			func() {
				if _, err := svc.RevokeToken(ctx, Operator(), u, tok.ID); err != nil {
					t.Fatal(err)
				}
			})
		if err != nil {
			t.Fatalf("the check that read the row before the revocation = %v, want it accepted", err)
		}
		if _, err := svc.Authenticate(ctx, raw, latchkey.Origin{}); err == nil {
			t.Error("a token revoked while its check was in flight is served from the cache")
		}
	})
	t.Run("refused token", func(t *testing.T) {
		svc, g := newGatedService(t)
		u := svc.mustUser(t, "racer")
		_, raw := svc.mustToken(t, u)
		inactive, active := latchkey.StatusInactive, latchkey.StatusActive
		if _, err := svc.UpdateUser(ctx, u.ID, UserChange{UserUpdate: latchkey.UserUpdate{Status: &inactive}}); err != nil {
			t.Fatal(err)
		}
		err := during(t, g, "Credential",
			func() error { _, err := svc.Authenticate(ctx, raw, latchkey.Origin{}); return err },
			func() {
				if _, err := svc.UpdateUser(ctx, u.ID, UserChange{UserUpdate: latchkey.UserUpdate{Status: &active}}); err != nil {
					t.Fatal(err)
				}
			})
		if err == nil {
			t.Fatal("the check that read the user before they were enabled accepted the token")
		}
		if _, err := svc.Authenticate(ctx, raw, latchkey.Origin{}); err != nil {
			t.Errorf("enabled again while a check was in flight, the token is refused from the cache: %v", err)
		}
	})
	t.Run("row", func(t *testing.T) {
		svc, g := newGatedService(t)
		u := svc.mustUser(t, "racer")
		tok, _ := svc.mustToken(t, u)
		err := during(t, g, "Token",
			func() error { _, err := svc.Token(ctx, u, tok.ID); return err },
			func() {
				if _, err := svc.RevokeToken(ctx, Operator(), u, tok.ID); err != nil {
					t.Fatal(err)
				}
			})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := svc.Token(ctx, u, tok.ID); err != nil || !got.Revoked {
			t.Errorf("after the revocation, Token = %+v, %v; want it revoked (not the row read before)", got, err)
		}
	})
	t.Run("list", func(t *testing.T) {
		svc, g := newGatedService(t)
		u := svc.mustUser(t, "racer")
		tok, _ := svc.mustToken(t, u)
		list := func() ([]*latchkey.Token, error) {
			ts, _, err := svc.Tokens(ctx, u, ListQuery{Page: 1, PerPage: 100})
			return ts, err
		}
		err := during(t, g, "Tokens",
			func() error { _, err := list(); return err },
			func() {
				if _, err := svc.RevokeToken(ctx, Operator(), u, tok.ID); err != nil {
					t.Fatal(err)
				}
			})
		if err != nil {
			t.Fatal(err)
		}
		ts, err := list()
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range ts {
			if x.ID == tok.ID {
				t.Error("after the revocation, the list read before it is served from the cache")
			}
		}
	})
}

// stillClock is a clock that stands still, at the time it was made.
func stillClock() func() time.Time {
	now := time.Now().UTC().Truncate(time.Second)
	return func() time.Time { return now }
}

// eventually waits until ok holds, asking again as the events of other
// processes arrive (SQLite's are polled); it asserts no time: only the
// test's own deadline ends a wait for what never comes.
func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	ctx := t.Context()
	if d, has := t.Deadline(); has {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-5*time.Second))
		defer cancel()
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !ok() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: never seen before the test's deadline", what)
		case <-tick.C:
		}
	}
}

// clientReads counts the reads of clients from the store.
type clientReads struct {
	latchkey.Store
	n atomic.Int32
}

func (c *clientReads) Client(ctx context.Context, id int64) (*latchkey.Client, error) {
	c.n.Add(1)
	return c.Store.Client(ctx, id)
}

// TestPersonalClientCached: creates read the personal access client once
// in rowTTL; a revoked client, anywhere, or the time passing, makes the
// next create read it again.
func TestPersonalClientCached(t *testing.T) {
	clk := newHandClock()
	base, st := newTestService(t, Config{})
	reads := &clientReads{Store: st}
	svc, err := New(t.Context(), reads, base.sealer, Config{Now: clk.Now, Password: base.cfg.Password})
	if err != nil {
		t.Fatal(err)
	}
	u := svc.mustUser(t, "creator")
	created := func(want int32, when string) {
		t.Helper()
		reads.n.Store(0)
		for range 3 {
			if tok, _ := svc.mustToken(t, u); tok.Client == nil || tok.Client.ID != latchkey.PersonalAccessClientID {
				t.Fatalf("%s: a token created with the client %+v", when, tok.Client)
			}
		}
		if got := reads.n.Load(); got != want {
			t.Errorf("%s: three creates read the client %d times, want %d", when, got, want)
		}
	}
	created(1, "at first")
	created(0, "read before")
	clk.Advance(rowTTL)
	created(1, "rowTTL later")
	app, _, err := svc.RegisterClient(t.Context(), NewClient{Name: "App", RedirectURIs: []string{"https://app.example.com/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.RevokeClient(t.Context(), app.ID); err != nil {
		t.Fatal(err)
	}
	reads.n.Store(0)
	created(1, "after a client was revoked")
}
