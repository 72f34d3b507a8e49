package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/internal/wire"
)

// requestID is the id the middleware gave the request w answers, for
// log lines: the answer carries it (X-Request-Id). Read from there, it
// costs the request no context of its own, nor a copy of the request to
// hold it.
func requestID(w http.ResponseWriter) string {
	if v := w.Header()["X-Request-Id"]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// saneRequestID reports whether id, sent by the client, may be used as
// the request's id: 1 to 64 of [A-Za-z0-9._-].
func saneRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// The values of the headers every answer carries.
var (
	nosniff    = []string{"nosniff"}
	noReferrer = []string{"no-referrer"}
)

// newRequestID returns 16 random characters of base32, the id of a
// request that brought none. An id only tells log lines apart and need not
// be unpredictable: math/rand/v2's generator serves, without the system
// call crypto/rand may make.
func newRequestID() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	var b [16]byte
	x, y := mrand.Uint64(), mrand.Uint64()
	for i := range 12 {
		b[i] = alphabet[x&31]
		x >>= 5
	}
	for i := 12; i < 16; i++ {
		b[i] = alphabet[y&31]
		y >>= 5
	}
	return string(b[:])
}

// header is r's first value of the header key, which must be in canonical
// form: read from the map as net/http made it, which canonicalised the
// names it read, without Header.Get canonicalising key once more (every
// request reads three).
func header(r *http.Request, key string) string {
	if v := r.Header[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// MaxQueryBytes bounds a request's query string. No page of ours needs more
// (a list's filter is at most 255 characters, an OAuth request a few
// hundred bytes), and nothing past it is read.
const MaxQueryBytes = 8 << 10

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// middleware gives each request an id, logs it when done (route pattern,
// status, duration; never a header or the query), sets the headers every
// answer carries, and turns a panic into a 500 (the contract's JSON, or the
// error page for a browser: faceFor) with the stack in the log only.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := header(r, "X-Request-Id")
		if !saneRequestID(id) {
			id = newRequestID()
		}
		// The keys are in canonical form already, and the constant
		// values shared: net/http only reads them.
		h := w.Header()
		h["X-Request-Id"] = []string{id}
		h["X-Content-Type-Options"] = nosniff
		h["Referrer-Policy"] = noReferrer
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "panic", "request_id", id, "route", r.Pattern, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if sw.status == 0 {
					s.fail(sw, r, faceFor(r), errors.New("panic"))
				}
			}
			end := time.Now()
			d := end.Sub(start)
			if s.metrics != nil {
				s.metrics.ObserveRequest(r.Pattern, r.Method, sw.status, d)
			}
			if s.opts.AccessLog != nil {
				s.opts.AccessLog.Request(end, id, r.Method, r.Pattern, sw.status, d)
				return
			}
			s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("request_id", id), slog.String("method", r.Method), slog.String("route", r.Pattern),
				slog.Int("status", sw.status), slog.Duration("duration", d))
		}()
		if len(r.URL.RawQuery) > MaxQueryBytes {
			writeJSON(sw, http.StatusRequestURITooLong, wire.Problem{Message: "The query string is longer than " + strconv.Itoa(MaxQueryBytes) + " bytes."})
			return
		}
		next.ServeHTTP(sw, r)
	})
}
