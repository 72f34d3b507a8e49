package service

import (
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/jwt"
	"github.com/latchkey/latchkey/internal/password"
	"github.com/latchkey/latchkey/internal/sqlite"
)

// newTestService is a service on a real SQLite database.
func newTestService(t *testing.T, cfg Config) (*Service, *sqlite.DB) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "svc.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
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

// TestCacheNeverServesRevoked: many goroutines authenticate one token in a
// loop while it is revoked; no call that began after RevokeToken returned
// may succeed. Repeated, so that revocations land inside a miss as well
// as among hits.
func TestCacheNeverServesRevoked(t *testing.T) {
	svc, _ := newTestService(t, Config{})
	u := svc.mustUser(t, "racer")
	for round := range 30 {
		tok, raw := svc.mustToken(t, u)
		if round%2 == 1 {
			// Half the rounds start cold: the revocation races the miss.
			svc.cache.purge()
		}
		var revokedAt atomic.Int64 // unix nanoseconds; 0 until RevokeToken returned
		var bad atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					began := revokedAt.Load()
					if _, err := svc.Authenticate(t.Context(), raw, latchkey.Origin{}); err == nil && began != 0 {
						bad.Add(1)
					}
				}
			})
		}
		time.Sleep(2 * time.Millisecond)
		if _, err := svc.RevokeToken(t.Context(), Operator, u, tok.ID); err != nil {
			t.Fatal(err)
		}
		revokedAt.Store(time.Now().UnixNano())
		time.Sleep(5 * time.Millisecond)
		close(stop)
		wg.Wait()
		if n := bad.Load(); n > 0 {
			t.Fatalf("round %d: %d authentications that began after the revocation succeeded", round, n)
		}
	}
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
	if _, err := svc.RotateKey(ctx); err != nil {
		t.Fatal(err)
	}
	if svc.cache.len() != 0 {
		t.Errorf("cache holds %d tokens after a key rotation, want 0", svc.cache.len())
	}
	if err := auth(); err != nil {
		t.Errorf("a token of the retired key after rotation: %v", err)
	}

	// A revoked client: its tokens are refused at once.
	if err := st.RevokeClient(ctx, latchkey.PersonalAccessClientID, svc.now()); err != nil {
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
	svc, st := newTestService(t, Config{})
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
	deadline := time.Now().Add(time.Second)
	for {
		if _, err := svc.Authenticate(ctx, raw, latchkey.Origin{}); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a token revoked by another process is still served a second later")
		}
		time.Sleep(5 * time.Millisecond)
	}
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
	if n := len(svc.cache.byID); n != 5 {
		t.Errorf("cache index holds %d ids, want 5 (evictions must clean it)", n)
	}
}

// TestRowCache: a token shown from memory is never shown unrevoked after
// its revocation (here, or by another process), and shows its last use
// once that is written.
func TestRowCache(t *testing.T) {
	svc, st := newTestService(t, Config{})
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
	if _, err := svc.RevokeToken(ctx, Operator, u, tok.ID); err != nil {
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
	deadline := time.Now().Add(time.Second)
	for {
		if got, _ := svc.Token(ctx, u, tok2.ID); got.Revoked {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a token revoked by another process still shows unrevoked a second later")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestListCache: a list served from memory shows a new token, and hides a
// revoked one, at once here and within a second when another process
// made the change.
func TestListCache(t *testing.T) {
	svc, st := newTestService(t, Config{})
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
	within := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not seen within a second", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	has := func(id string) bool { return slices.Contains(ids(), id) }

	a, _ := svc.mustToken(t, u)
	if !has(a.ID) {
		t.Fatal("a new token is not listed")
	}
	b, _ := svc.mustToken(t, u) // the list was cached: it must be dropped
	if !has(b.ID) {
		t.Error("a token created after the list was cached is not listed")
	}
	if _, err := svc.RevokeToken(ctx, Operator, u, a.ID); err != nil {
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

// TestRowAndListCacheRaces: many goroutines show a token and list its
// user's tokens while it is revoked (and another created); no call that
// began after the change returned may see the state before it. Half the
// rounds start cold, so that the change races the database reads.
func TestRowAndListCacheRaces(t *testing.T) {
	svc, _ := newTestService(t, Config{})
	ctx := t.Context()
	u := svc.mustUser(t, "racer")
	for round := range 60 {
		tok, _ := svc.mustToken(t, u)
		if round%2 == 1 {
			svc.rows.purge()
			svc.lists.purge()
		}
		var changedAt atomic.Int64
		var newID atomic.Value
		newID.Store("")
		var bad atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 6 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					began := changedAt.Load()
					if w%2 == 0 {
						if got, err := svc.Token(ctx, u, tok.ID); err == nil && !got.Revoked && began != 0 {
							bad.Add(1)
						}
						continue
					}
					ts, _, err := svc.Tokens(ctx, u, ListQuery{Page: 1, PerPage: 1000})
					if err != nil || began == 0 {
						continue
					}
					var ids []string
					for _, x := range ts {
						ids = append(ids, x.ID)
					}
					if slices.Contains(ids, tok.ID) || !slices.Contains(ids, newID.Load().(string)) {
						bad.Add(1)
					}
				}
			})
		}
		time.Sleep(2 * time.Millisecond)
		if _, err := svc.RevokeToken(ctx, Operator, u, tok.ID); err != nil {
			t.Fatal(err)
		}
		made, _ := svc.mustToken(t, u)
		newID.Store(made.ID)
		changedAt.Store(time.Now().UnixNano())
		time.Sleep(5 * time.Millisecond)
		close(stop)
		wg.Wait()
		if n := bad.Load(); n > 0 {
			t.Fatalf("round %d: %d reads that began after the changes saw the state before them", round, n)
		}
	}
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
	if _, err := svc.RevokeToken(ctx, Operator, u, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Inspect(ctx, raw); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
		t.Errorf("Inspect of a revoked token: %v, want EUNAUTHENTICATED", err)
	}
}
