package resource

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"testing/synctest"
	"time"
)

// hang is a transport whose requests never get an answer: they end only
// when their context does.
type hang struct{}

func (hang) RoundTrip(r *http.Request) (*http.Response, error) {
	<-r.Context().Done()
	return nil, r.Context().Err()
}

// TestFetchTimeout: a JWKS fetch or an introspection that runs on its own
// ends after fetchTimeout even with a client that has no timeout, so that
// the fetches and questions after it are not held by it for ever.
func TestFetchTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v, err := newVerifier(Config{
			Issuer: "https://auth.example.com", Resource: "https://mcp.example.com/mcp",
			ClientID: "id", ClientSecret: "secret",
			HTTPClient: &http.Client{Transport: hang{}},
		})
		if err != nil {
			t.Fatal(err)
		}
		v.keys.url = "https://auth.example.com/jwks"
		v.introspect.endpoint = "https://auth.example.com/introspect"
		start := time.Now()

		if err := v.keys.load(t.Context()); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("a JWKS fetch that hangs: %v, want the deadline exceeded", err)
		}
		if d := time.Since(start); d != fetchTimeout {
			t.Errorf("it ended after %v, want %v", d, fetchTimeout)
		}
		v.keys.mu.Lock()
		inFlight := v.keys.flight != nil
		v.keys.mu.Unlock()
		if inFlight {
			t.Error("the fetch is still in flight")
		}

		start = time.Now()
		if _, err := v.introspect.active(t.Context(), "a.b.c", start.Add(time.Hour)); !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("an introspection that hangs: %v, want ErrUnavailable, the deadline exceeded", err)
		}
		if d := time.Since(start); d != fetchTimeout {
			t.Errorf("it ended after %v, want %v", d, fetchTimeout)
		}
	})
}
