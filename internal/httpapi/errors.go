package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
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

// errorStatus is the status of err, from the table: 500 for an error that
// is not a *latchkey.Error, which is returned too when it is one.
func errorStatus(err error) (int, *latchkey.Error) {
	if e, ok := err.(*latchkey.Error); ok { // most are: no errors.As, whose target would be allocated
		return Status(e.Code), e
	}
	var e *latchkey.Error
	if !errors.As(err, &e) {
		return http.StatusInternalServerError, nil
	}
	return Status(e.Code), e
}

// problem is the status and body the contract gives err.
func problem(err error) (int, wire.Problem) {
	status, e := errorStatus(err)
	return status, problemBody(status, e)
}

// problemBody is the contract's body for e, whose status is status (e nil:
// an error that is not a *latchkey.Error, status 500).
func problemBody(status int, e *latchkey.Error) wire.Problem {
	switch status {
	case http.StatusUnauthorized:
		return wire.Problem{Error: "Unauthenticated."}
	case http.StatusNotFound:
		return wire.Problem{Error: "Not Found"}
	case http.StatusInternalServerError:
		return wire.Problem{Message: "Server Error"}
	case http.StatusUnprocessableEntity:
		return wire.Problem{Message: e.Message, Errors: wire.FieldErrors(e.Fields)}
	}
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(status) + "."
	}
	return wire.Problem{Message: msg}
}

// face is the form an answer takes: the API's JSON or a web page.
type face int

const (
	faceAPI face = iota
	facePage
)

// faceFor is the face of an answer to r that no handler chose (a path the
// server does not have, a panic): a page for a browser (Accept names
// text/html) outside the API and the endpoints programs call, else JSON.
func faceFor(r *http.Request) face {
	if wantsHTML(r.Header.Values("Accept")) && !forPrograms(r.URL.Path) {
		return facePage
	}
	return faceAPI
}

// handlerFunc is a handler that returns its error instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle adapts an API handler: an error it returns is answered in the
// contract's JSON.
func (s *Server) handle(h handlerFunc) http.Handler { return s.adapt(faceAPI, h) }

// ui adapts a page handler: an error it returns is answered with the
// error page.
func (s *Server) ui(h handlerFunc) http.HandlerFunc { return s.adapt(facePage, h) }

// adapt is the one adapter of handlers that return errors: fail answers
// the error in face f.
func (s *Server) adapt(f face, h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.fail(w, r, f, err)
		}
	}
}

// fail answers err in face f, the API and the pages alike: the status is
// the table's for err's code (500 for any other error), the body says
// only what is safe for the caller, and a server error is logged with its
// cause, which the caller never sees. The API's 401s, and its 403s for a
// missing scope, carry its challenge (apiChallenge).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, f face, err error) {
	status, e := errorStatus(err)
	if status >= 500 {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "route", r.Pattern, "request_id", requestID(w), "err", err)
	}
	if f == faceAPI {
		if status == http.StatusUnauthorized {
			// The key in canonical form: net/http only reads it.
			w.Header()["Www-Authenticate"] = s.unauthorizedChallenge(r)
		} else if c := s.apiChallenge(r, status, e); c != "" {
			w.Header().Set("WWW-Authenticate", c)
		}
	} else if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", "Bearer")
	}
	if f == facePage {
		s.errorPage(w, r, status, e, err)
		return
	}
	if status == http.StatusUnauthorized {
		// What a flood of bad tokens is answered: written once.
		writeBytes(w, status, unauthenticatedBody, unauthenticatedLength)
		return
	}
	writeJSON(w, status, problemBody(status, e))
}

// The body of every 401 of the API, and its length as a header value.
var (
	unauthenticatedBody   = append(problemBody(http.StatusUnauthorized, nil).AppendJSON(nil), '\n')
	unauthenticatedLength = []string{strconv.Itoa(len(unauthenticatedBody))}
)

// writeBytes answers status with the JSON body b, whose length is length
// (a header value, shared: net/http only reads it).
func writeBytes(w http.ResponseWriter, status int, b []byte, length []string) {
	h := w.Header()
	h["Content-Type"] = jsonType
	h["Content-Length"] = length
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeError answers err in the contract's JSON.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	s.fail(w, r, faceAPI, err)
}

// pageWords are what the error page says about a code: a heading, the
// sentence under it, and the code it shows for reports. With own, the
// error's Message, when it has one, is the sentence (it is safe for the
// caller, and the API sends it too).
type pageWords struct {
	heading, sentence, shown string
	own                      bool
}

// errorPages are the error page's words for each code. The status is
// never here: it is the table's.
var errorPages = map[string]pageWords{
	latchkey.EMALFORMED:       {heading: "Bad request", sentence: "The form could not be read.", shown: "invalid_request", own: true},
	latchkey.EUNAUTHENTICATED: {heading: "Sign in", sentence: "Sign in to see this page.", shown: "unauthenticated"},
	latchkey.EFORBIDDEN: {heading: "Not allowed", shown: "forbidden",
		sentence: "Your account may not do this. An administrator can give it the view-users permission (to see other users' tokens) or edit-users (to revoke them)."},
	latchkey.ENOTFOUND:    {heading: "Not found", sentence: "There is no such page, user or token here."},
	latchkey.ECONFLICT:    {heading: "Changed meanwhile", sentence: "This conflicts with a change made meanwhile. Reload the page and try again.", shown: "conflict", own: true},
	latchkey.ETOOLARGE:    {heading: "Too large", sentence: "The form is larger than 64 KiB. Go back, shorten what you typed, and try again.", shown: "request_too_large"},
	latchkey.EINVALID:     {heading: "Not accepted", sentence: "What was sent is not valid. Go back, correct it, and try again.", shown: "invalid_request", own: true},
	latchkey.ERATELIMIT:   {heading: "Too many at once", sentence: "You have done this many times in a short time. Wait a minute and try again.", shown: "rate_limited"},
	latchkey.EINTERNAL:    {heading: "Something went wrong", sentence: "The page failed on our side. Try again in a moment.", shown: "server_error"},
	latchkey.EUNAVAILABLE: {heading: "Busy", sentence: "The server cannot answer just now. Try again in a few seconds.", shown: "temporarily_unavailable", own: true},
}

// sayOnPage returns err with the heading and sentence its error page
// shows instead of the code's; its status is still the table's for err.
func sayOnPage(err error, heading, sentence string) error {
	return &pageSaid{heading: heading, sentence: sentence, err: err}
}

type pageSaid struct {
	heading, sentence string
	err               error
}

func (p *pageSaid) Error() string { return p.err.Error() }
func (p *pageSaid) Unwrap() error { return p.err }

// errorPage shows the error page for err, of status (the table's for e,
// the *latchkey.Error in err's chain, or 500 when there is none).
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, e *latchkey.Error, err error) {
	words := errorPages[latchkey.EINTERNAL]
	if e != nil {
		if own, ok := errorPages[e.Code]; ok {
			words = own
		}
	}
	sentence := words.sentence
	if words.own && e.Message != "" {
		sentence = e.Message
	}
	heading := words.heading
	if said := (*pageSaid)(nil); status < 500 && errors.As(err, &said) {
		heading, sentence = said.heading, said.sentence
	}
	s.renderError(w, r, status, heading, sentence, words.shown)
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
		setJSONHeaders(w.Header(), len(b))
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
	setJSONHeaders(w.Header(), b.Len())
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// setJSONHeaders says that the answer is JSON of n bytes: with its length
// known, net/http sends it whole rather than in chunks.
func setJSONHeaders(h http.Header, n int) {
	h["Content-Type"] = jsonType
	h["Content-Length"] = []string{strconv.Itoa(n)}
}

var jsonType = []string{"application/json"}

// buffers hold answers being written.
var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// methodNotAllowed answers 405 with the methods the path has.
func methodNotAllowed(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeJSON(w, http.StatusMethodNotAllowed, wire.Problem{Message: "The " + r.Method + " method is not supported for this route. Supported methods: " + allow + "."})
	})
}
