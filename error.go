package latchkey

import (
	"errors"
	"fmt"
	"strings"
)

// Error codes. The set is closed: every error a caller sees carries one of
// them, in-process or over the network (the HTTP layer maps each to one
// status, and the Go client maps the status back).
const (
	EINTERNAL        = "internal"        // something went wrong on our side
	EINVALID         = "invalid"         // the input fails validation (422)
	EMALFORMED       = "malformed"       // the request body is not readable (400)
	ETOOLARGE        = "too_large"       // the request body is over the limit (413)
	EUNAUTHENTICATED = "unauthenticated" // no valid credentials (401)
	EFORBIDDEN       = "forbidden"       // valid credentials, not allowed (403)
	ENOTFOUND        = "not_found"       // no such thing, or not visible (404)
	ECONFLICT        = "conflict"        // a unique value is taken (409)
	ERATELIMIT       = "rate_limited"    // too many attempts (429)
	EUNAVAILABLE     = "unavailable"     // a dependency is down; retry later (503)
)

// ErrorCodes is the closed set of error codes, for tables and tests that
// must cover every one.
var ErrorCodes = []string{
	EINTERNAL, EINVALID, EMALFORMED, ETOOLARGE, EUNAUTHENTICATED,
	EFORBIDDEN, ENOTFOUND, ECONFLICT, ERATELIMIT, EUNAVAILABLE,
}

// Error is the one error type of the domain. Message is safe to show to the
// caller; anything else (a driver error, a query) belongs in Err, which is
// only logged. Fields holds per-field sentences of an EINVALID error, in the
// order the fields were checked. Scope is set on an EFORBIDDEN error that
// refuses a token for a scope it lacks: the scope the request needs, so that
// a caller may come back with a token that has it (the HTTP layer names it
// in the answer's challenge); it is "" on every other error.
type Error struct {
	Code    string
	Message string
	Fields  FieldErrors
	Scope   string
	Err     error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Code)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an Error with the code and a formatted, caller-safe message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, "" for nil,
// and EINTERNAL for any other error.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	// Most errors are an *Error itself: found without errors.As, whose
	// target would be allocated.
	if e, ok := err.(*Error); ok {
		return e.Code
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-safe message of err: the Message of the
// first *Error in its chain, or a generic sentence for any other error.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	return "Server Error"
}

// FieldError is the list of sentences about one input field.
type FieldError struct {
	Field     string
	Sentences []string
}

// FieldErrors are validation failures in the order the fields were checked.
type FieldErrors []FieldError

// Add appends a sentence about field, keeping the first-seen field order.
func (fe *FieldErrors) Add(field, sentence string) {
	for i := range *fe {
		if (*fe)[i].Field == field {
			(*fe)[i].Sentences = append((*fe)[i].Sentences, sentence)
			return
		}
	}
	*fe = append(*fe, FieldError{Field: field, Sentences: []string{sentence}})
}

// Get returns the sentences about field.
func (fe FieldErrors) Get(field string) []string {
	for _, f := range fe {
		if f.Field == field {
			return f.Sentences
		}
	}
	return nil
}

// Err returns nil when there are no failures, and otherwise an EINVALID
// *Error whose message is the first sentence followed by
// " (and N more error[s])", ProcessMaker's summary.
func (fe FieldErrors) Err() error {
	if len(fe) == 0 {
		return nil
	}
	n := -1
	for _, f := range fe {
		n += len(f.Sentences)
	}
	msg := fe[0].Sentences[0]
	switch {
	case n == 1:
		msg += " (and 1 more error)"
	case n > 1:
		msg += fmt.Sprintf(" (and %d more errors)", n)
	}
	return &Error{Code: EINVALID, Message: msg, Fields: fe}
}
