package service

import (
	"bytes"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/jwt"
)

// TestNewGenCacheSize: a size (or a bound on tokens) of zero or less makes
// no cache.
func TestNewGenCacheSize(t *testing.T) {
	for _, tc := range []struct {
		size int
		want bool
	}{
		{-1, false},
		{0, false},
		{1, true},
	} {
		if got := newGenCache[string, int](tc.size) != nil; got != tc.want {
			t.Errorf("newGenCache(%d): a cache %t, want %t", tc.size, got, tc.want)
		}
		if got := newListCache(tc.size) != nil; got != tc.want {
			t.Errorf("newListCache(%d): a cache %t, want %t", tc.size, got, tc.want)
		}
	}
}

// TestGenCacheGet: a value is served until its deadline, not at it; a nil
// cache holds nothing.
func TestGenCacheGet(t *testing.T) {
	c := newGenCache[string, int](4)
	t0 := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	c.put("k", 7, t0.Add(time.Second), c.generation())
	for _, tc := range []struct {
		at     time.Time
		want   int
		wantOK bool
	}{
		{t0, 7, true},
		{t0.Add(time.Second - time.Nanosecond), 7, true},
		{t0.Add(time.Second), 0, false},
	} {
		if got, ok := c.get("k", tc.at); got != tc.want || ok != tc.wantOK {
			t.Errorf("get at %s = %d, %t; want %d, %t", tc.at, got, ok, tc.want, tc.wantOK)
		}
	}
	var none *genCache[string, int]
	none.put("k", 7, t0.Add(time.Second), 0)
	if got, ok := none.get("k", t0); ok || got != 0 || none.len() != 0 {
		t.Errorf("a nil cache: get = %d, %t; len %d; want nothing", got, ok, none.len())
	}
}

// TestRevokeClientRevokesWhatItsTokensMade: a personal token made with an
// application's token stops authenticating when the application is
// revoked, though this process had it cached; its revocation is logged
// with the token that made it.
func TestRevokeClientRevokesWhatItsTokensMade(t *testing.T) {
	var log bytes.Buffer
	svc, _ := newTestService(t, Config{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	ctx := t.Context()
	u := svc.mustUser(t, "erin")
	app, _, err := svc.RegisterClient(ctx, NewClient{Name: "App", RedirectURIs: []string{"https://app.example.com/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	id, err := svc.newTokenID()
	if err != nil {
		t.Fatal(err)
	}
	now := svc.now()
	exp := now.Add(time.Hour)
	scopes := latchkey.Scopes{latchkey.ScopeTokensRead, latchkey.ScopeTokensWrite}
	appJWT, kid, err := svc.keys.Load().Sign(jwt.Claims{
		Audience: strconv.FormatInt(app.ID, 10), ID: id, Subject: strconv.FormatInt(u.ID, 10),
		IssuedAt: now, NotBefore: now, ExpiresAt: exp, Scopes: scopes,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.store.CreateToken(ctx, &latchkey.Token{ID: id, UserID: u.ID, ClientID: app.ID, Name: app.Name, Scopes: scopes,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: &exp, KeyID: kid}); err != nil {
		t.Fatal(err)
	}
	p, err := svc.Authenticate(ctx, appJWT, latchkey.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	name := "made by the app"
	child, childJWT, err := svc.CreateToken(ctx, p, u, TokenRequest{Name: &name, Scopes: []string{latchkey.ScopeTokensRead}})
	if err != nil {
		t.Fatal(err)
	}
	if child.ParentID != id {
		t.Fatalf("the token made has parent %q, want %q", child.ParentID, id)
	}
	if _, err := svc.Authenticate(ctx, childJWT, latchkey.Origin{}); err != nil {
		t.Fatal(err) // and now cached
	}
	if err := svc.RevokeClient(ctx, app.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, childJWT, latchkey.Origin{}); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
		t.Errorf("the token the app's token made, after the app was revoked: %v, want EUNAUTHENTICATED", err)
	}
	want := fmt.Sprintf(`msg="token revoked" token_id=%s user_id=%d client_id=%d why="parent_revoked: made by token %s"`, child.ID, u.ID, child.ClientID, id)
	if !strings.Contains(log.String(), want) {
		t.Errorf("logged:\n%s\nwant a line with %s", &log, want)
	}
}

// TestGenCacheWeight: an entry may weigh a tenth of the bound at most; the
// entries held weigh no more than the bound, the oldest going first.
func TestGenCacheWeight(t *testing.T) {
	c := newGenCache(100, weighed[int64](func(v []int) int { return len(v) }, 100))
	until := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	c.put(1, make([]int, 11), until, c.generation())
	if c.len() != 0 {
		t.Errorf("an entry of weight 11, bound 100: held, want it refused")
	}
	for k := range int64(11) {
		c.put(k, make([]int, 10), until, c.generation())
	}
	if _, ok := c.get(0, until.Add(-time.Second)); ok || c.len() != 10 || c.held != 100 {
		t.Errorf("eleven entries of weight 10, bound 100: %d held, weighing %d, the oldest kept %t; want 10, 100, false", c.len(), c.held, ok)
	}
}
