package resource_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/resource"
	"github.com/latchkey/latchkey/resource/resourcetest"
)

// TestRotation: a token of a new key is verified once the JWKS is fetched
// again, which an unknown kid does at once, but at most every 10 seconds;
// the tokens of the keys before keep verifying.
func TestRotation(t *testing.T) {
	f := setup(t, func(c *resource.Config) { c.ClientID, c.ClientSecret = "", "" })
	old := f.token(nil)
	if _, err := f.v.Verify(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	if n := f.iss.JWKSFetches(); n != 1 {
		t.Fatalf("JWKS fetched %d times by New, want 1", n)
	}

	f.iss.RotateKey(resource.ES256)
	f.clock.Advance(9 * time.Second)
	newer := f.token(nil)
	if _, err := f.v.Verify(t.Context(), newer); !errors.Is(err, resource.ErrUnknownKey) {
		t.Errorf("9s after the last fetch, a new kid: Verify = %v, want ErrUnknownKey", err)
	}
	if n := f.iss.JWKSFetches(); n != 1 {
		t.Errorf("9s after the last fetch, an unknown kid fetched the JWKS (%d fetches)", n)
	}

	f.clock.Advance(time.Second)
	if _, err := f.v.Verify(t.Context(), newer); err != nil {
		t.Errorf("10s after the last fetch, a new kid: Verify = %v, want it fetched and accepted", err)
	}
	if n := f.iss.JWKSFetches(); n != 2 {
		t.Errorf("JWKS fetched %d times, want 2", n)
	}
	if _, err := f.v.Verify(t.Context(), old); err != nil {
		t.Errorf("the old key's token after the rotation: %v", err)
	}
}

// TestUnknownKidsFetchOnce: a flood of tokens naming kids the JWKS lacks
// costs one fetch per 10 seconds, however many arrive at once.
func TestUnknownKidsFetchOnce(t *testing.T) {
	f := setup(t, nil)
	f.clock.Advance(10 * time.Second)
	forged := func(n int) string {
		return f.iss.Sign(map[string]any{"typ": "at+jwt", "kid": "forged-" + string(rune('a'+n))}, f.claims())
	}
	var wg sync.WaitGroup
	for n := range 20 {
		wg.Go(func() {
			if _, err := f.v.Verify(t.Context(), forged(n)); !errors.Is(err, resource.ErrUnknownKey) {
				t.Errorf("a forged kid: Verify = %v, want ErrUnknownKey", err)
			}
		})
	}
	wg.Wait()
	for n := range 20 {
		_, _ = f.v.Verify(t.Context(), forged(n))
	}
	if n := f.iss.JWKSFetches(); n != 2 {
		t.Errorf("40 tokens of unknown kids within 10s: %d fetches of the JWKS, want 2 (New's and one)", n)
	}
}

// TestJWKSAge: the set is fetched again when its max-age, within the
// bounds, runs out; a key the issuer dropped is then refused.
func TestJWKSAge(t *testing.T) {
	for _, tc := range []struct {
		name         string
		cacheControl string
		minAge       time.Duration
		maxAge       time.Duration
		age          time.Duration
	}{
		{"max-age", "public, max-age=600", 0, 0, 600 * time.Second},
		{"below the minimum", "max-age=5", 0, 0, time.Minute},
		{"above the maximum", "max-age=86400", 0, 0, time.Hour},
		{"none", "", 0, 0, 5 * time.Minute},
		{"no-store", "no-store, max-age=600", 0, 0, time.Minute},
		{"configured bounds", "max-age=600", 2 * time.Minute, 3 * time.Minute, 3 * time.Minute},
		{"a huge max-age", "max-age=99999999999999999999", 0, 0, time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			iss := resourcetest.NewIssuer()
			defer iss.Close()
			iss.SetJWKSCacheControl(tc.cacheControl)
			c := newClock()
			iss.Now = c.Now
			cfg := iss.Config(res)
			cfg.Now, cfg.JWKSMinAge, cfg.JWKSMaxAge = c.Now, tc.minAge, tc.maxAge
			v, err := resource.New(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			old := iss.Token(resourcetest.Token{Audience: res})
			oldKid := iss.RotateKey(resource.EdDSA)
			_ = oldKid
			c.Advance(tc.age - time.Second)
			if _, err := v.Verify(t.Context(), old); err != nil || iss.JWKSFetches() != 1 {
				t.Fatalf("1s before the set's age: Verify = %v after %d fetches, want accepted after 1", err, iss.JWKSFetches())
			}
			c.Advance(time.Second)
			if _, err := v.Verify(t.Context(), old); err != nil || iss.JWKSFetches() != 2 {
				t.Fatalf("at the set's age: Verify = %v after %d fetches, want accepted after 2", err, iss.JWKSFetches())
			}
		})
	}
}

// TestDroppedKey: once the issuer drops a key from its JWKS, its tokens
// are refused from the next fetch on.
func TestDroppedKey(t *testing.T) {
	f := setup(t, nil)
	oldKid := f.iss.RotateKey(resource.RS256)
	old := f.token(nil)
	f.clock.Advance(10 * time.Second)
	if _, err := f.v.Verify(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	f.iss.RotateKey(resource.ES256)
	f.iss.RemoveKey(oldKid)
	f.clock.Advance(59 * time.Second)
	if _, err := f.v.Verify(t.Context(), old); err != nil {
		t.Errorf("before the set's max-age: Verify = %v, want accepted", err)
	}
	f.clock.Advance(time.Second)
	if _, err := f.v.Verify(t.Context(), old); !errors.Is(err, resource.ErrUnknownKey) {
		t.Errorf("after the set's max-age, a dropped key's token: Verify = %v, want ErrUnknownKey", err)
	}
}

// TestJWKSDown: while the JWKS cannot be fetched, the keys fetched before
// keep verifying; a token of an unknown kid is then ErrUnavailable (the
// key may exist), until the fetches succeed again.
func TestJWKSDown(t *testing.T) {
	f := setup(t, func(c *resource.Config) { c.ClientID, c.ClientSecret = "", "" })
	old := f.token(nil)
	f.iss.RotateKey(resource.ES256)
	newer := f.token(nil)
	f.iss.SetDown(true)
	f.clock.Advance(time.Hour)
	if _, err := f.v.Verify(t.Context(), old); err != nil {
		t.Errorf("a stale set, the JWKS down: Verify(a known key's token) = %v, want accepted", err)
	}
	if _, err := f.v.Verify(t.Context(), old); err != nil {
		t.Errorf("after the failed fetch: Verify(a known key's token) = %v, want accepted", err)
	}
	f.clock.Advance(10 * time.Second)
	if _, err := f.v.Verify(t.Context(), newer); !errors.Is(err, resource.ErrUnavailable) || errors.Is(err, resource.ErrInvalidToken) {
		t.Errorf("the JWKS down: Verify(a new key's token) = %v, want ErrUnavailable", err)
	}
	if _, err := f.v.Verify(t.Context(), newer); !errors.Is(err, resource.ErrUnavailable) {
		t.Errorf("the JWKS down, within 10s of the failed fetch: Verify = %v, want ErrUnavailable", err)
	}
	f.iss.SetDown(false)
	f.clock.Advance(10 * time.Second)
	if _, err := f.v.Verify(t.Context(), newer); err != nil {
		t.Errorf("the JWKS back: Verify = %v, want accepted", err)
	}
}

// TestNewKeyConcurrent: requests that arrive with a new key's token while
// its JWKS fetch is in flight wait for it, and are accepted.
func TestNewKeyConcurrent(t *testing.T) {
	f := setup(t, func(c *resource.Config) { c.ClientID, c.ClientSecret = "", "" })
	f.iss.RotateKey(resource.EdDSA)
	tok := f.token(nil)
	f.clock.Advance(10 * time.Second)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := f.v.Verify(t.Context(), tok); err != nil {
				t.Errorf("a new key's token, 20 at once: Verify = %v", err)
			}
		})
	}
	wg.Wait()
	if n := f.iss.JWKSFetches(); n != 2 {
		t.Errorf("%d fetches of the JWKS, want 2", n)
	}
}
