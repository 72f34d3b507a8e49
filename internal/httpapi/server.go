// Package httpapi serves Latchkey over HTTP: ProcessMaker's Personal Tokens
// API under /api/1.0, the JWKS, and the health endpoints. Handlers return
// errors; one adapter turns a *latchkey.Error into the contract's status
// and body, and anything else into a 500 whose cause is only logged.
package httpapi

import (
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/latchkey/latchkey/internal/service"
)

// Options are what the server needs besides the service. The zero value
// logs nothing, keeps no metrics and limits no rate.
type Options struct {
	Logger  *slog.Logger
	Metrics Metrics
	Limits  Limits
	// TrustedProxies are the addresses whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
}

// Metrics is what the server reports to, and serves at /metrics.
type Metrics interface {
	ObserveRequest(route, method string, status int, d time.Duration)
	RateLimited(limit string)
	Handler() http.Handler
}

// Server is the HTTP face of a service.
type Server struct {
	svc     *service.Service
	log     *slog.Logger
	mux     *http.ServeMux
	opts    Options
	metrics Metrics

	failedAuth, createByUser, createByAddr *limiter
}

// New returns the server's handler: every route, wrapped in the request
// id, access log, metrics and panic recovery middleware.
func New(svc *service.Service, opts Options) http.Handler {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		svc: svc, log: log, mux: http.NewServeMux(), opts: opts, metrics: opts.Metrics,
		failedAuth:   newLimiter("failed_auth", opts.Limits.FailedAuthPerAddr),
		createByUser: newLimiter("create_user", opts.Limits.CreatePerUser),
		createByAddr: newLimiter("create_addr", opts.Limits.CreatePerAddr),
	}
	s.routes()
	return s.middleware(s.mux)
}
