package httpapi_test

import (
	"net/http/httptest"
	"testing"

	"github.com/latchkey/latchkey/internal/httpapi"
	"github.com/latchkey/latchkey/internal/metrics"
)

// scrape reads m's exposition, as the metrics listener serves it.
func scrape(t *testing.T, m *metrics.Metrics) *response {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return &response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// TestMetricsNotOnAPI: the API's listener does not serve the metrics,
// which tell why tokens were refused: /metrics is the contract's 404,
// the same as any path that is not there.
func TestMetricsNotOnAPI(t *testing.T) {
	h := newHarnessWith(t, httpapi.Options{Metrics: metrics.New()})
	h.do("GET", tokensPath(h.user.ID), "Bearer nope", nil)
	for _, path := range []string{"/metrics", "/metrics/"} {
		h.golden("error-404-path", h.do("GET", path, "", nil))
	}
}
