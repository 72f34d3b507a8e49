package httpapi_test

import (
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/httpapi"
	"github.com/latchkey/latchkey/internal/metrics"
)

// doFrom is do with an X-Forwarded-For header.
func (h *harness) doFrom(forwardedFor, method, path, auth string, body []byte) *response {
	h.t.Helper()
	req, err := http.NewRequestWithContext(h.t.Context(), method, h.srv.URL+path, strings.NewReader(string(body)))
	if err != nil {
		h.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if forwardedFor != "" {
		req.Header.Set("X-Forwarded-For", forwardedFor)
	}
	res, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return &response{status: res.StatusCode, header: res.Header, body: b}
}

func want429(t *testing.T, r *response) {
	t.Helper()
	if r.status != 429 {
		t.Fatalf("status %d, want 429", r.status)
	}
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("Retry-After = %q, want whole seconds ≥ 1", r.header.Get("Retry-After"))
	}
}

func TestFailedAuthLimit(t *testing.T) {
	h := newHarnessWith(t, httpapi.Options{Limits: httpapi.Limits{FailedAuthPerAddr: httpapi.Rate{PerSecond: 0.01, Burst: 3}}})
	path := tokensPath(h.user.ID)
	if r := h.do("GET", path, bearer(h.userJWT), nil); r.status != 200 {
		t.Fatalf("a good token = %d", r.status)
	}
	for i := range 3 {
		if r := h.do("GET", path, "Bearer forged-"+strconv.Itoa(i), nil); r.status != 401 {
			t.Fatalf("failure %d = %d, want 401", i+1, r.status)
		}
	}
	r := h.do("GET", path, "Bearer forged", nil)
	want429(t, r)
	if p := problemOf(t, r); p.Message != "Too Many Attempts." {
		t.Errorf("429 body = %+v", p)
	}
	// Good tokens do not spend the budget, but an exhausted address waits.
	want429(t, h.do("GET", path, bearer(h.userJWT), nil))
}

func TestCreateLimit(t *testing.T) {
	h := newHarnessWith(t, httpapi.Options{Limits: httpapi.Limits{CreatePerUser: httpapi.Rate{PerSecond: 0.01, Burst: 2}}})
	path := tokensPath(h.user.ID)
	for i := range 2 {
		if r := h.do("POST", path, bearer(h.userJWT), []byte(`{"name":"n"}`)); r.status != 201 {
			t.Fatalf("create %d = %d", i+1, r.status)
		}
	}
	want429(t, h.do("POST", path, bearer(h.userJWT), []byte(`{"name":"n"}`)))
	// Another user has a budget of their own; reading is not limited.
	if r := h.do("POST", tokensPath(h.admin.ID), bearer(h.adminJWT), []byte(`{"name":"n"}`)); r.status != 201 {
		t.Errorf("another user's create = %d, want 201", r.status)
	}
	if r := h.do("GET", path, bearer(h.userJWT), nil); r.status != 200 {
		t.Errorf("a list after the limit = %d, want 200", r.status)
	}
}

func TestForwardedFor(t *testing.T) {
	limits := httpapi.Limits{FailedAuthPerAddr: httpapi.Rate{PerSecond: 0.01, Burst: 1}}
	path := tokensPath(1)
	t.Run("trusted proxy", func(t *testing.T) {
		h := newHarnessWith(t, httpapi.Options{Limits: limits, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
		h.doFrom("203.0.113.5", "GET", path, "Bearer x", nil)
		want429(t, h.doFrom("203.0.113.5", "GET", path, "Bearer x", nil))
		if r := h.doFrom("127.0.0.9, 203.0.113.6", "GET", path, "Bearer x", nil); r.status != 401 {
			t.Errorf("another client behind the proxy = %d, want 401 (its own budget)", r.status)
		}
		h.doFrom("2001:db8::1", "GET", path, "Bearer x", nil)
		want429(t, h.doFrom("2001:db8::2", "GET", path, "Bearer x", nil)) // the same /64
	})
	t.Run("untrusted peer", func(t *testing.T) {
		h := newHarnessWith(t, httpapi.Options{Limits: limits})
		h.doFrom("203.0.113.5", "GET", path, "Bearer x", nil)
		// X-Forwarded-For from a peer that is not trusted changes nothing.
		want429(t, h.doFrom("198.51.100.1", "GET", path, "Bearer x", nil))
	})
}

func TestMetricsEndpoint(t *testing.T) {
	m := metrics.New()
	h := newHarnessWith(t, httpapi.Options{Metrics: m})
	h.do("GET", tokensPath(h.user.ID), bearer(h.userJWT), nil)
	h.do("GET", tokensPath(h.user.ID), "Bearer nope", nil)
	r := scrape(t, m)
	for _, want := range []string{
		`latchkey_http_requests_total{method="GET",route="GET /api/1.0/users/{user_id}/tokens",status="200"} 1`,
		`latchkey_http_requests_total{method="GET",route="GET /api/1.0/users/{user_id}/tokens",status="401"} 1`,
		`latchkey_http_request_duration_seconds_count{method="GET",route="GET /api/1.0/users/{user_id}/tokens"} 2`,
	} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
