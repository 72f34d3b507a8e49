package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"sync"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/wire"
)

// statuses maps each error code to its HTTP status: the one table.
var statuses = map[string]int{
	latchkey.EMALFORMED:       http.StatusBadRequest,
	latchkey.EUNAUTHENTICATED: http.StatusUnauthorized,
	latchkey.EFORBIDDEN:       http.StatusForbidden,
	latchkey.ENOTFOUND:        http.StatusNotFound,
	latchkey.ECONFLICT:        http.StatusConflict,
	latchkey.ETOOLARGE:        http.StatusRequestEntityTooLarge,
	latchkey.EINVALID:         http.StatusUnprocessableEntity,
	latchkey.ERATELIMIT:       http.StatusTooManyRequests,
	latchkey.EINTERNAL:        http.StatusInternalServerError,
	latchkey.EUNAVAILABLE:     http.StatusServiceUnavailable,
}

// Status is the HTTP status of an error code.
func Status(code string) int {
	if s, ok := statuses[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// problem is the status and body the contract gives err.
func problem(err error) (int, wire.Problem) {
	var e *latchkey.Error
	if !errors.As(err, &e) {
		return http.StatusInternalServerError, wire.Problem{Message: "Server Error"}
	}
	status := Status(e.Code)
	switch status {
	case http.StatusUnauthorized:
		return status, wire.Problem{Error: "Unauthenticated."}
	case http.StatusNotFound:
		return status, wire.Problem{Error: "Not Found"}
	case http.StatusInternalServerError:
		return status, wire.Problem{Message: "Server Error"}
	case http.StatusUnprocessableEntity:
		return status, wire.Problem{Message: e.Message, Errors: wire.FieldErrors(e.Fields)}
	}
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(status) + "."
	}
	return status, wire.Problem{Message: msg}
}

// writeError answers with err in the contract's shape. Server errors are
// logged with their cause; the caller sees only "Server Error".
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, body := problem(err)
	if status >= 500 {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "route", r.Pattern, "request_id", requestID(r), "err", err)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", "Bearer")
	}
	writeJSON(w, status, body)
}

// writeJSON answers with v as JSON, whatever the request's Accept says.
// HTML is not escaped: answers are application/json with nosniff, and the
// names people give tokens read better as written. The API's own shapes
// append themselves (wire.Appender, the same bytes without reflection)
// into pooled buffers.
func writeJSON(w http.ResponseWriter, status int, v any) {
	if a, ok := v.(wire.Appender); ok {
		bp := buffers.Get().(*[]byte)
		b := append(a.AppendJSON((*bp)[:0]), '\n')
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(b)
		if cap(b) <= 1<<20 {
			*bp = b
			buffers.Put(bp)
		}
		return
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		b.Reset()
		b.WriteString(`{"message":"Server Error"}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// buffers hold answers being written.
var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// handlerFunc is a handler that returns its error instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle adapts h: an error it returns is written in the contract's shape.
func (s *Server) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// methodNotAllowed answers 405 with the methods the path has.
func methodNotAllowed(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeJSON(w, http.StatusMethodNotAllowed, wire.Problem{Message: "The " + r.Method + " method is not supported for this route. Supported methods: " + allow + "."})
	})
}
