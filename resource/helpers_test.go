package resource_test

import (
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/resource"
	"github.com/latchkey/latchkey/resource/resourcetest"
)

// clock is a test's clock: it moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// res is the resource the tests' verifiers protect.
const res = "https://mcp.example.com/mcp"

// fixture is a test authorization server, a clock both share, and a
// Verifier for res.
type fixture struct {
	iss   *resourcetest.Issuer
	clock *clock
	v     *resource.Verifier
}

// setup starts an Issuer and makes a Verifier of its Config, changed by
// mod if not nil.
func setup(t *testing.T, mod func(*resource.Config)) *fixture {
	t.Helper()
	iss := resourcetest.NewIssuer()
	t.Cleanup(iss.Close)
	c := newClock()
	iss.Now = c.Now
	cfg := iss.Config(res)
	cfg.Now = c.Now
	if mod != nil {
		mod(&cfg)
	}
	v, err := resource.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &fixture{iss: iss, clock: c, v: v}
}

// token signs a token for res with the scopes given, changed by mod.
func (f *fixture) token(mod func(*resourcetest.Token), scopes ...string) string {
	tok := resourcetest.Token{Audience: res, Scopes: scopes}
	if mod != nil {
		mod(&tok)
	}
	return f.iss.Token(tok)
}

// claims returns standard claims for res at the fixture's now, for Sign.
func (f *fixture) claims() map[string]any {
	now := f.clock.Now().Unix()
	return map[string]any{
		"iss": f.iss.URL, "aud": res, "sub": "1", "client_id": "2", "jti": "j1",
		"iat": now, "nbf": now, "exp": now + 3600, "scope": "mcp.read",
	}
}

// with returns m with the members of kv set (nil removes one).
func with(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}
