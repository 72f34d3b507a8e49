package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/latchkey/latchkey"
)

// healthz answers while the process serves at all.
func healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// readyz answers 200 while the database answers and accepts writes (a
// probe that writes nothing), 503 otherwise.
func (s *Server) readyz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.svc.Ping(ctx); err != nil {
			s.log.WarnContext(r.Context(), "not ready", "err", err)
			s.writeError(w, r, &latchkey.Error{Code: latchkey.EUNAVAILABLE, Message: "The database is unavailable.", Err: err})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// jwks publishes the public keys that still verify tokens.
func (s *Server) jwks() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=60")
		_, _ = w.Write(s.svc.JWKS())
	})
}
