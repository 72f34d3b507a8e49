package metrics

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMetrics(t *testing.T) {
	m := New()
	m.ObserveRequest("GET /api/1.0/users/{user_id}/tokens", "GET", 200, 3*time.Millisecond)
	m.ObserveRequest("", "GET", 404, time.Millisecond)
	// A series looked up before is counted again, not anew.
	m.ObserveRequest("", "GET", 404, time.Millisecond)
	// A handler that wrote nothing sent net/http's 200.
	m.ObserveRequest("GET /healthz", "GET", 0, time.Millisecond)
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
		`latchkey_http_requests_total{method="GET",route="none",status="404"} 2`,
		`latchkey_http_requests_total{method="GET",route="GET /healthz",status="200"} 1`,
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

// TestLabelsBounded: whatever methods and statuses requests bring, the
// labels take values from a closed set, so the exposition does not grow
// with hostile traffic.
func TestLabelsBounded(t *testing.T) {
	scrape := func(m *Metrics) string {
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		return rec.Body.String()
	}
	m := New()
	for _, method := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE", "BREW"} {
		for status := range 1000 {
			m.ObserveRequest("/", method, status, time.Millisecond)
		}
	}
	every := len(scrape(m)) // every series there can be on one route
	for i := range 5000 {
		m.ObserveRequest("/", fmt.Sprintf("X-%d", i), 100+i%900, time.Millisecond)
		m.ObserveRequest("/", strings.ToLower(fmt.Sprintf("get%d", i)), -i, time.Millisecond)
	}
	body := scrape(m)
	// The counts grow by a digit or so; the series do not.
	if len(body) > every+4096 {
		t.Errorf("the exposition grew from %d to %d bytes with 10,000 requests of made-up methods and statuses", every, len(body))
	}
	allowed := map[string]bool{
		`method="GET"`: true, `method="HEAD"`: true, `method="POST"`: true, `method="PUT"`: true, `method="PATCH"`: true,
		`method="DELETE"`: true, `method="CONNECT"`: true, `method="OPTIONS"`: true, `method="TRACE"`: true, `method="other"`: true,
	}
	for _, l := range regexp.MustCompile(`method="[^"]*"`).FindAllString(body, -1) {
		if !allowed[l] {
			t.Errorf("label %s: want a standard method or other", l)
		}
	}
	for _, l := range regexp.MustCompile(`status="([^"]*)"`).FindAllStringSubmatch(body, -1) {
		if n, err := strconv.Atoi(l[1]); l[1] != "other" && (err != nil || http.StatusText(n) == "") {
			t.Errorf("label status=%q: want a standard status or other", l[1])
		}
	}
	if !strings.Contains(body, `latchkey_http_requests_total{method="other",route="/",status="other"}`) {
		t.Error(`/metrics lacks the requests of made-up methods and statuses, counted as method="other", status="other"`)
	}
}
