package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"

	"github.com/latchkey/latchkey/internal/metrics"
)

// metricsListener serves the metrics at /metrics on an address of their
// own (--metrics-addr), never on the API's: they describe traffic and why
// tokens were refused, which the API's callers must not learn. The zero
// value, with no address given, serves nothing.
type metricsListener struct {
	srv    *http.Server
	ln     net.Listener
	failed chan error // Serve's error; nil when nothing is served
}

// listenMetrics listens on addr for m's metrics, and Go's profiles if
// profiles is true, or does nothing when addr is empty.
func listenMetrics(addr string, profiles bool, m *metrics.Metrics, log *slog.Logger) (*metricsListener, error) {
	if addr == "" {
		return &metricsListener{}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on --metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	if profiles {
		// Not /debug/pprof/cmdline: the command line may hold the
		// database's URL with its password.
		mux.HandleFunc("GET /debug/pprof/cmdline", http.NotFound)
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return &metricsListener{
		ln:     ln,
		srv:    newHTTPServer(mux, log),
		failed: make(chan error, 1),
	}, nil
}

// addr is the address listened on, or "" when none.
func (l *metricsListener) addr() string {
	if l.ln == nil {
		return ""
	}
	return l.ln.Addr().String()
}

// serve serves until shutdown; an error that ends it early arrives on
// l.failed.
func (l *metricsListener) serve() {
	if l.srv == nil {
		return
	}
	go func() {
		if err := l.srv.Serve(l.ln); !errors.Is(err, http.ErrServerClosed) {
			l.failed <- fmt.Errorf("serving metrics: %w", err)
		}
	}()
}

// close stops listening before anything was served.
func (l *metricsListener) close() {
	if l.ln != nil {
		l.ln.Close()
	}
}

// shutdown stops serving, letting scrapes in flight finish until ctx ends.
func (l *metricsListener) shutdown(ctx context.Context) error {
	if l.srv == nil {
		return nil
	}
	return l.srv.Shutdown(ctx)
}
