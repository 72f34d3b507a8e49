// Package httpapi serves Latchkey over HTTP: ProcessMaker's Personal Tokens
// API under /api/1.0, the JWKS, the health endpoints, the OAuth endpoints
// and the web pages. Handlers return errors; one adapter (errors.go) turns
// a *latchkey.Error into the status of the one table and the API's body or
// the error page, and anything else into a 500 whose cause is only logged.
package httpapi

import (
	"log/slog"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/latchkey/latchkey/internal/accesslog"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/service"
)

// Options are what the server needs besides the service. The zero value
// logs nothing, keeps no metrics and limits no rate.
type Options struct {
	Logger *slog.Logger
	// AccessLog, when set, writes the access log's lines in Logger's
	// place: the same lines, in the same form, written without slog's
	// generic machinery (see internal/accesslog). Nil: Logger writes
	// them.
	AccessLog *accesslog.Log
	Metrics   Metrics
	Limits    Limits
	// TrustedProxies are the addresses whose X-Forwarded-For (and
	// X-Forwarded-Proto) is believed.
	TrustedProxies []netip.Prefix
	// OAuth is the authorization server; nil serves no /oauth endpoints.
	OAuth *oauth.Provider
	// PublicURL is the server's address as its users reach it, e.g.
	// https://tokens.example.com: the OAuth issuer. Empty: taken from
	// each request.
	PublicURL string
	// Registration says which clients may register themselves at
	// /oauth/register (RFC 7591); "" is RegistrationOff. It needs OAuth.
	Registration RegistrationMode
	// SecureCookies marks the sign-in cookie Secure even when requests
	// arrive over plain HTTP (TLS ends at a proxy that is not trusted).
	SecureCookies bool
}

// Metrics is what the server reports to. The server does not serve them:
// they go on a listener of their own, away from the API's callers.
type Metrics interface {
	ObserveRequest(route, method string, status int, d time.Duration)
	RateLimited(limit string)
}

// Server is the HTTP face of a service.
type Server struct {
	svc     *service.Service
	log     *slog.Logger
	mux     *http.ServeMux
	opts    Options
	metrics Metrics

	failedAuth, createByUser, createByAddr     *limiter
	signInByAddr, signInByAccount, tokenByAddr *limiter
	signInByDevice, registerByAddr             *limiter
	device                                     deviceCookies

	oauth *oauth.Provider
	csrf  *http.CrossOriginProtection

	// challenges are the WWW-Authenticate values of a 401, built once for
	// the last origin they named (unauthorizedChallenge).
	challenges atomic.Pointer[challenges401]

	// pages holds list pages' tokens as JSON, and shown single tokens.
	pages *jsonCache[pageKey]
	shown *jsonCache[string]

	// exports holds a slot for each inventory CSV being written: each
	// holds a database connection until its last row.
	exports chan struct{}
}

// maxExports is how many inventory CSVs are written at once; more are
// refused with 429 until one ends.
const maxExports = 2

// New returns the server's handler: every route, wrapped in the request
// id, access log, metrics and panic recovery middleware.
func New(svc *service.Service, opts Options) http.Handler {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		svc: svc, log: log, mux: http.NewServeMux(), opts: opts, metrics: opts.Metrics,
		failedAuth:      newLimiter("failed_auth", opts.Limits.FailedAuthPerAddr),
		createByUser:    newLimiter("create_user", opts.Limits.CreatePerUser),
		createByAddr:    newLimiter("create_addr", opts.Limits.CreatePerAddr),
		signInByAddr:    newLimiter("sign_in_addr", opts.Limits.SignInPerAddr),
		signInByAccount: newLimiter("sign_in_account", opts.Limits.SignInPerAccount),
		tokenByAddr:     newLimiter("token_endpoint", opts.Limits.TokenEndpointPerAddr),
		registerByAddr:  newLimiter("registration", opts.Limits.RegistrationPerAddr),
		// A device cookie's budget is the size of a name's.
		signInByDevice: newLimiter("sign_in_device", opts.Limits.SignInPerAccount),
		device:         deviceCookies{key: svc.DeriveKey(DeviceCookieInfo)},
		oauth:          opts.OAuth,
		csrf:           http.NewCrossOriginProtection(),
		exports:        make(chan struct{}, maxExports),
		pages:          newJSONCache[pageKey](),
		shown:          newJSONCache[string](),
	}
	s.csrf.SetDenyHandler(http.HandlerFunc(s.csrfRefused))
	s.routes()
	return s.middleware(s.mux)
}
