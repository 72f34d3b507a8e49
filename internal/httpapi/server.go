// Package httpapi serves Latchkey over HTTP: ProcessMaker's Personal Tokens
// API under /api/1.0, the JWKS, and the health endpoints. Handlers return
// errors; one adapter turns a *latchkey.Error into the contract's status
// and body, and anything else into a 500 whose cause is only logged.
package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/latchkey/latchkey/internal/service"
)

// Server is the HTTP face of a service.
type Server struct {
	svc *service.Service
	log *slog.Logger
	mux *http.ServeMux
}

// New returns the server's handler: every route, wrapped in the request
// id, access log and panic recovery middleware.
func New(svc *service.Service, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{svc: svc, log: log, mux: http.NewServeMux()}
	s.routes()
	return s.middleware(s.mux)
}
