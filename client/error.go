package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/wire"
)

// StatusError is the HTTP side of an answer outside 2xx. The Client returns
// it as the Err of a *latchkey.Error whose Code is mapped back from
// StatusCode:
//
//	400                  EMALFORMED
//	401                  EUNAUTHENTICATED
//	403                  EFORBIDDEN
//	404, 410             ENOTFOUND
//	405, any other 4xx   EMALFORMED: the server cannot serve the request as
//	                     sent, as for a 400. EINVALID is kept for 422, whose
//	                     Fields name what to fix.
//	409                  ECONFLICT
//	413, 414, 431        ETOOLARGE
//	422                  EINVALID, with Fields from the body's "errors" in order
//	429                  ERATELIMIT
//	503                  EUNAVAILABLE
//	any other status     EINTERNAL (500, 502, 504, an unfollowed 3xx, …)
//
// The Message is the body's "message", else its "error"; when the body has
// neither (it is not JSON, say, from a proxy), the status text, such as
// "Bad Gateway".
type StatusError struct {
	StatusCode int
	// RetryAfter is how long the server asks the caller to wait, from the
	// Retry-After header of a 429 or 503 (seconds or a date); 0 when
	// absent or unreadable.
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	s := "HTTP " + strconv.Itoa(e.StatusCode)
	if e.RetryAfter > 0 {
		s += ", retry after " + e.RetryAfter.String()
	}
	return s
}

// StatusCode returns the HTTP status of the answer err comes from, or 0
// when err is nil or did not come from an answer (a transport failure, an
// invalid argument).
func StatusCode(err error) int {
	var se *StatusError
	if errors.As(err, &se) {
		return se.StatusCode
	}
	return 0
}

// codeOf maps an HTTP status back to a latchkey error code, as the table on
// StatusError says.
func codeOf(status int) string {
	switch status {
	case http.StatusBadRequest:
		return latchkey.EMALFORMED
	case http.StatusUnauthorized:
		return latchkey.EUNAUTHENTICATED
	case http.StatusForbidden:
		return latchkey.EFORBIDDEN
	case http.StatusNotFound, http.StatusGone:
		return latchkey.ENOTFOUND
	case http.StatusConflict:
		return latchkey.ECONFLICT
	case http.StatusRequestEntityTooLarge, http.StatusRequestURITooLong, http.StatusRequestHeaderFieldsTooLarge:
		return latchkey.ETOOLARGE
	case http.StatusUnprocessableEntity:
		return latchkey.EINVALID
	case http.StatusTooManyRequests:
		return latchkey.ERATELIMIT
	case http.StatusServiceUnavailable:
		return latchkey.EUNAVAILABLE
	}
	if status >= 400 && status <= 499 {
		return latchkey.EMALFORMED
	}
	return latchkey.EINTERNAL
}

// answerError turns an answer outside 2xx, with the body b read from it,
// into a *latchkey.Error wrapping a *StatusError.
func (c *Client) answerError(resp *http.Response, b []byte) *latchkey.Error {
	se := &StatusError{StatusCode: resp.StatusCode}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		se.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), c.now())
	}
	e := &latchkey.Error{Code: codeOf(resp.StatusCode), Err: se}
	if p := problem(b); p != nil {
		e.Message = strings.TrimSpace(p.Text())
		e.Fields = latchkey.FieldErrors(p.Errors)
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	if e.Message == "" {
		e.Message = fmt.Sprintf("HTTP status %d", resp.StatusCode)
	}
	return e
}

// problem decodes an error body, or returns nil when b is not a JSON
// object. When "errors" is not the contract's shape, the sentence is kept
// and the fields dropped.
func problem(b []byte) *wire.Problem {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return nil
	}
	var p wire.Problem
	if err := json.Unmarshal(b, &p); err == nil {
		return &p
	}
	var text struct {
		Error   any `json:"error"`
		Message any `json:"message"`
	}
	if err := json.Unmarshal(b, &text); err != nil {
		return nil
	}
	s1, _ := text.Error.(string)
	s2, _ := text.Message.(string)
	return &wire.Problem{Error: s1, Message: s2}
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date,
// which counts from now. It returns 0 for anything else or a time passed.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if n, err := strconv.ParseInt(h, 10, 64); err == nil {
		const most = math.MaxInt64 / int64(time.Second)
		switch {
		case n <= 0:
			return 0
		case n > most:
			return time.Duration(most) * time.Second
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
