package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestMetrics(t *testing.T) {
	m := New()
	m.ObserveRequest("GET /api/1.0/users/{user_id}/tokens", "GET", 200, 3*time.Millisecond)
	m.ObserveRequest("", "GET", 404, time.Millisecond)
	m.Authenticated("cached")
	m.Authenticated("revoked")
	m.TokenCreated()
	m.TokenRevoked()
	m.RateLimited("create")
	m.SignedIn("wrong password")
	m.SignedIn("accepted")
	m.Gauge("latchkey_token_cache_entries", "Verified tokens held.", func() float64 { return 7 })
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`latchkey_http_requests_total{method="GET",route="GET /api/1.0/users/{user_id}/tokens",status="200"} 1`,
		`latchkey_http_requests_total{method="GET",route="none",status="404"} 1`,
		`latchkey_http_request_duration_seconds_bucket{method="GET",route="GET /api/1.0/users/{user_id}/tokens",le="0.005"} 1`,
		`latchkey_authentications_total{outcome="cached"} 1`,
		`latchkey_authentications_total{outcome="revoked"} 1`,
		`latchkey_tokens_created_total 1`,
		`latchkey_tokens_revoked_total 1`,
		`latchkey_rate_limited_total{limit="create"} 1`,
		`latchkey_sign_ins_total{outcome="wrong password"} 1`,
		`latchkey_sign_ins_total{outcome="accepted"} 1`,
		`latchkey_token_cache_entries 7`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
