// Package cimdtest serves Client ID Metadata Documents for tests: over
// TLS on the loopback, with a certificate from httptest's test authority,
// which the server's fetcher must be told to trust (Roots) and allowed to
// reach (ssrf.Policy.AllowLoopback).
package cimdtest

import (
	"crypto/x509"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// Server serves a document, or what a test chooses, at each path.
type Server struct {
	*httptest.Server
	// Roots holds the authority of the server's certificate.
	Roots *x509.CertPool
	// Conns counts the connections the server accepted.
	Conns atomic.Int64

	mu       sync.Mutex
	handlers map[string]http.HandlerFunc
	hits     map[string]int
}

// NewServer starts a Server that answers 404 at every path until told
// otherwise; it stops when t ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{handlers: map[string]http.HandlerFunc{}, hits: map[string]int{}}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		h := s.handlers[r.URL.Path]
		s.hits[r.URL.Path]++
		s.mu.Unlock()
		if h == nil {
			http.NotFound(w, r)
			return
		}
		h(w, r)
	}))
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes that tests refuse
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.Conns.Add(1)
		}
	}
	s.StartTLS()
	t.Cleanup(s.Close)
	s.Roots = x509.NewCertPool()
	s.Roots.AddCert(s.Certificate())
	return s
}

// URLOf returns the URL of path, a client_id.
func (s *Server) URLOf(path string) string { return s.URL + path }

// Handle makes s answer requests for path with h.
func (s *Server) Handle(path string, h http.HandlerFunc) {
	s.mu.Lock()
	s.handlers[path] = h
	s.mu.Unlock()
}

// Document makes s serve at path, as application/json, a document whose
// client_id is path's URL and whose other fields are fields (which may
// override client_id), and returns the URL.
func (s *Server) Document(path string, fields map[string]any) string {
	id := s.URLOf(path)
	doc := map[string]any{"client_id": id}
	for k, v := range fields {
		doc[k] = v
	}
	body, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	s.Handle(path, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	return id
}

// Hits says how many requests for path s answered.
func (s *Server) Hits(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}
