package resource_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/resource"
	"github.com/latchkey/latchkey/resource/resourcetest"
)

// TestRevocation: a revoked token is accepted while the "active" answer
// is kept (ActiveTTL, 30 seconds by default), refused from then on, and
// the "not active" answer is kept: the issuer is not asked again.
func TestRevocation(t *testing.T) {
	for _, tc := range []struct {
		name string
		ttl  time.Duration
		kept time.Duration
	}{
		{"default", 0, 30 * time.Second},
		{"configured", 5 * time.Second, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, func(c *resource.Config) { c.ActiveTTL = tc.ttl })
			tok := f.token(nil)
			if _, err := f.v.Verify(t.Context(), tok); err != nil {
				t.Fatal(err)
			}
			if n := f.iss.Introspections(); n != 1 {
				t.Fatalf("%d introspections, want 1", n)
			}
			f.iss.Revoke(tok)
			f.clock.Advance(tc.kept - time.Second)
			if _, err := f.v.Verify(t.Context(), tok); err != nil {
				t.Errorf("revoked, within the window: Verify = %v, want the kept answer", err)
			}
			if n := f.iss.Introspections(); n != 1 {
				t.Errorf("within the window: %d introspections, want 1", n)
			}
			f.clock.Advance(time.Second)
			if _, err := f.v.Verify(t.Context(), tok); !errors.Is(err, resource.ErrRevoked) {
				t.Errorf("revoked, past the window: Verify = %v, want ErrRevoked", err)
			}
			f.clock.Advance(50 * time.Minute)
			if _, err := f.v.Verify(t.Context(), tok); !errors.Is(err, resource.ErrRevoked) {
				t.Errorf("revoked, later: Verify = %v, want ErrRevoked", err)
			}
			if n := f.iss.Introspections(); n != 2 {
				t.Errorf("%d introspections, want 2: the answer 'not active' is kept until the token expires", n)
			}
		})
	}
}

// TestActiveTTLNegative: every request asks.
func TestActiveTTLNegative(t *testing.T) {
	f := setup(t, func(c *resource.Config) { c.ActiveTTL = -1 })
	tok := f.token(nil)
	for range 3 {
		if _, err := f.v.Verify(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
	}
	f.iss.Revoke(tok)
	if _, err := f.v.Verify(t.Context(), tok); !errors.Is(err, resource.ErrRevoked) {
		t.Errorf("revoked: Verify = %v, want ErrRevoked at once", err)
	}
	if n := f.iss.Introspections(); n != 4 {
		t.Errorf("%d introspections for 4 requests, want 4", n)
	}
}

// TestActiveNotKeptPastExpiry: an "active" answer is not kept past the
// token's exp (and leeway).
func TestActiveNotKeptPastExpiry(t *testing.T) {
	f := setup(t, func(c *resource.Config) { c.ActiveTTL = time.Hour; c.Leeway = -1 })
	tok := f.token(func(tok *resourcetest.Token) { tok.ExpiresAt = f.clock.Now().Add(10 * time.Second) })
	if _, err := f.v.Verify(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(10 * time.Second)
	if _, err := f.v.Verify(t.Context(), tok); !errors.Is(err, resource.ErrExpired) {
		t.Errorf("expired: Verify = %v, want ErrExpired", err)
	}
}

// TestIntrospectionOnceAtATime: many requests with one token ask once.
func TestIntrospectionOnceAtATime(t *testing.T) {
	f := setup(t, nil)
	tok := f.token(nil)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := f.v.Verify(t.Context(), tok); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := f.iss.Introspections(); n != 1 {
		t.Errorf("20 requests at once with one token: %d introspections, want 1", n)
	}
}

// TestIntrospectionCacheBound: the answers kept are at most
// MaxCachedTokens; the least recently used goes first.
func TestIntrospectionCacheBound(t *testing.T) {
	f := setup(t, func(c *resource.Config) { c.MaxCachedTokens = 2 })
	a, b, c := f.token(nil), f.token(nil), f.token(nil)
	for _, tok := range []string{a, b, a, c, a, b} {
		if _, err := f.v.Verify(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
	}
	// a, b asked; a kept; c asked, evicting b; a kept; b asked again.
	if n := f.iss.Introspections(); n != 4 {
		t.Errorf("%d introspections, want 4", n)
	}
}

// TestIntrospectionUnavailable: when the endpoint fails, the token is not
// accepted, the error says the server is unavailable (not that the token
// is bad), and nothing is kept: the next request asks again.
func TestIntrospectionUnavailable(t *testing.T) {
	f := setup(t, nil)
	tok := f.token(nil)
	f.iss.SetDown(true)
	_, err := f.v.Verify(t.Context(), tok)
	if !errors.Is(err, resource.ErrUnavailable) || errors.Is(err, resource.ErrInvalidToken) {
		t.Errorf("endpoint down: Verify = %v, want ErrUnavailable only", err)
	}
	f.iss.SetDown(false)
	if _, err := f.v.Verify(t.Context(), tok); err != nil {
		t.Errorf("endpoint back: Verify = %v", err)
	}
}

// TestIntrospectionCredentials: the endpoint refusing the resource
// server's credentials is ErrUnavailable: the token may be good.
func TestIntrospectionCredentials(t *testing.T) {
	f := setup(t, func(c *resource.Config) { c.ClientSecret = "not the secret" })
	if _, err := f.v.Verify(t.Context(), f.token(nil)); !errors.Is(err, resource.ErrUnavailable) {
		t.Errorf("wrong credentials: Verify = %v, want ErrUnavailable", err)
	}
}

// TestNoIntrospection: without credentials, the issuer is never asked,
// and a revoked token is accepted until it expires.
func TestNoIntrospection(t *testing.T) {
	f := setup(t, func(c *resource.Config) { c.ClientID, c.ClientSecret = "", "" })
	tok := f.token(nil)
	f.iss.Revoke(tok)
	if _, err := f.v.Verify(t.Context(), tok); err != nil {
		t.Errorf("Verify = %v, want accepted", err)
	}
	if n := f.iss.Introspections(); n != 0 {
		t.Errorf("%d introspections, want none", n)
	}
}
