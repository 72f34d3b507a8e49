package latchkey_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey"
)

// TestErrorString: an Error reads code, then the caller's message, then the
// cause, each only when there is one.
func TestErrorString(t *testing.T) {
	cause := errors.New("disk full")
	for _, tc := range []struct {
		err  *latchkey.Error
		want string
	}{
		{&latchkey.Error{Code: latchkey.EINTERNAL}, "internal"},
		{&latchkey.Error{Code: latchkey.EINVALID, Message: "Bad name."}, "invalid: Bad name."},
		{&latchkey.Error{Code: latchkey.EINTERNAL, Err: cause}, "internal: disk full"},
		{&latchkey.Error{Code: latchkey.EUNAVAILABLE, Message: "Try later.", Err: cause}, "unavailable: Try later.: disk full"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("%#v.Error() = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// TestFieldErrorsAdd: sentences about one field stay together, fields in
// the order they were first named.
func TestFieldErrorsAdd(t *testing.T) {
	var fe latchkey.FieldErrors
	fe.Add("name", "a")
	fe.Add("scopes", "b")
	fe.Add("name", "c")
	want := latchkey.FieldErrors{{Field: "name", Sentences: []string{"a", "c"}}, {Field: "scopes", Sentences: []string{"b"}}}
	if diff := cmp.Diff(want, fe); diff != "" {
		t.Errorf("FieldErrors after Add (-want +got):\n%s", diff)
	}
}

// TestFieldErrorsGet: every sentence about the field named, and none for a
// field not named.
func TestFieldErrorsGet(t *testing.T) {
	var fe latchkey.FieldErrors
	fe.Add("name", "a")
	fe.Add("scopes", "b")
	fe.Add("name", "c")
	for _, tc := range []struct {
		field string
		want  []string
	}{
		{"name", []string{"a", "c"}},
		{"scopes", []string{"b"}},
		{"expires_at", nil},
	} {
		if diff := cmp.Diff(tc.want, fe.Get(tc.field)); diff != "" {
			t.Errorf("Get(%q) (-want +got):\n%s", tc.field, diff)
		}
	}
}
