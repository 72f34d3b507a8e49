package httpapi_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/accesslog"
	"github.com/latchkey/latchkey/internal/httpapi"
	"github.com/latchkey/latchkey/internal/logbuf"
	"github.com/latchkey/latchkey/internal/metrics"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/service"
	"github.com/latchkey/latchkey/internal/sqlitetest"
)

// BenchmarkServe is each read path of scripts/wrk-bench through the
// handler as serve builds it by default: the access log (slog's text
// format, buffered by logbuf, thrown away), the metrics, the rate limits
// but the failed-authentication one (wrk-bench turns it off), the OAuth
// server (so a 401 names the API's metadata). No network:
// what the server itself spends on a request beyond net/http. Besides
// ns/op, which the machine's other work inflates, it reports cpu-ns/op,
// the process's user and system time over the requests.
//
//	go test -run '^$' -bench BenchmarkServe -benchmem ./internal/httpapi/
func BenchmarkServe(b *testing.B) {
	m := metrics.New()
	out := logbuf.New(io.Discard, logbuf.DefaultSize, nil)
	b.Cleanup(func() { out.Close() })
	limits := httpapi.DefaultLimits
	limits.FailedAuthPerAddr = httpapi.Rate{}
	opts := httpapi.Options{Logger: slog.New(slog.NewTextHandler(out, nil)), AccessLog: accesslog.New(out, false), Metrics: m, Limits: limits}
	st := sqlitetest.Open(b)
	h := buildHarness(b, opts, st, st, func(c *service.Config) { c.Observer = m })
	prov, err := oauth.New(h.svc, st, oauth.Config{Secret: h.svc.DeriveKey(oauth.SecretInfo)})
	if err != nil {
		b.Fatal(err)
	}
	opts.OAuth, opts.Registration = prov, httpapi.RegistrationPublic
	handler := httpapi.New(h.svc, opts)

	// The listing user's 1,000 tokens, the token it shows, and a revoked one.
	var shown string
	for i := range 1000 {
		tok, _, err := h.mintToken(h.user, "t"+strconv.Itoa(i), nil)
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			shown = tok.ID
		}
	}
	revoked, revokedJWT, err := h.mintToken(h.user, "revoked", nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := h.svc.OperatorRevokeToken(b.Context(), revoked.ID); err != nil {
		b.Fatal(err)
	}

	for _, c := range []struct {
		name, path, auth string
		status           int
	}{
		{"show", tokenPath(h.user.ID, shown), bearer(h.userJWT), http.StatusOK},
		{"list", tokensPath(h.user.ID) + "?per_page=50", bearer(h.userJWT), http.StatusOK},
		{"malformed", tokenPath(h.user.ID, shown), "Bearer this-is-not-a-token", http.StatusUnauthorized},
		{"revoked", tokenPath(h.user.ID, shown), bearer(revokedJWT), http.StatusUnauthorized},
	} {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", c.path, nil)
			req.Header.Set("Authorization", c.auth)
			req.RemoteAddr = "127.0.0.1:40000"
			serve := func() {
				// As net/http's server, a request and a header map of
				// its own each time.
				r := req.Clone(b.Context())
				w := &discardWriter{header: http.Header{}}
				handler.ServeHTTP(w, r)
				if w.status != c.status {
					b.Fatalf("%s = %d, want %d", c.path, w.status, c.status)
				}
			}
			serve() // caches filled
			b.ReportAllocs()
			before := cpuTime()
			b.ResetTimer()
			for b.Loop() {
				serve()
			}
			b.StopTimer()
			b.ReportMetric(float64(cpuTime()-before)/float64(b.N), "cpu-ns/op")
		})
	}
}

// discardWriter is a ResponseWriter that keeps the status and throws the
// body away, as cheap as a writer can be.
type discardWriter struct {
	header http.Header
	status int
}

func (w *discardWriter) Header() http.Header { return w.header }

func (w *discardWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *discardWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(p), nil
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
