package service

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
)

// TestRedirectURIBounds: the edges of what checkRedirectURI accepts: the
// URI's length, the host's, the port's range, and the number of URIs.
func TestRedirectURIBounds(t *testing.T) {
	// A DNS name of n bytes: labels of 63 letters and dots.
	name := func(n int) string {
		var b strings.Builder
		for b.Len() < n {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(strings.Repeat("a", min(63, n-b.Len())))
		}
		return b.String()
	}
	long := func(n int) string { // an https URI of n bytes
		const head = "https://app.example/"
		return head + strings.Repeat("p", n-len(head))
	}
	for _, tc := range []struct {
		name, uri string
		ok        bool
	}{
		{"the longest URI", long(MaxRedirectURILength), true},
		{"a byte longer", long(MaxRedirectURILength + 1), false},
		{"the longest host", "https://" + name(253) + "/cb", true},
		{"a byte longer host", "https://" + name(254) + "/cb", false},
		{"port 1", "https://app.example:1/cb", true},
		{"port 0", "https://app.example:0/cb", false},
		{"port 65535", "https://app.example:65535/cb", true},
		{"port 65536", "https://app.example:65536/cb", false},
		{"port 080", "https://app.example:080/cb", false},
		{"a space", "https://app.example/a b", false},
		{"DEL", "https://app.example/a\x7fb", false},
		{"a tilde", "https://app.example/~a", true},
		{"empty", "", false},
		{"a comma", "https://app.example/a,b", false},
		{"a fragment", "https://app.example/cb#x", false},
		{"user information", "https://me@app.example/cb", false},
		{"relative", "/cb", false},
		{"opaque", "https:app.example", false},
		{"http on a loopback address", "http://127.0.0.1:8080/cb", true},
		{"http elsewhere", "http://app.example/cb", false},
	} {
		if got := checkRedirectURI(tc.uri); (got == "") != tc.ok {
			t.Errorf("%s: checkRedirectURI = %q, want accepted %t", tc.name, got, tc.ok)
		}
	}
	for _, tc := range []struct {
		n  int
		ok bool
	}{
		{0, false},
		{1, true},
		{MaxRedirectURIs, true},
		{MaxRedirectURIs + 1, false},
	} {
		var uris []string
		for i := range tc.n {
			uris = append(uris, fmt.Sprintf("https://app.example/cb%d", i))
		}
		if _, err := checkClient("App", uris); (err == nil) != tc.ok {
			t.Errorf("%d redirect URIs: %v, want accepted %t", tc.n, err, tc.ok)
		}
	}
}

// TestRevokeClientStoreErrors: a client gone by the time the store revokes
// it is ENOTFOUND; any other failure of the store is passed on as it is.
func TestRevokeClientStoreErrors(t *testing.T) {
	svc, fs := newFaultyService(t, Config{})
	app, _, err := svc.RegisterClient(t.Context(), NewClient{Name: "App", RedirectURIs: []string{"https://app.example.com/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"gone", latchkey.Errorf(latchkey.ENOTFOUND, "no such client"), latchkey.ENOTFOUND},
		{"failed", errors.New("the clients table is on fire"), latchkey.EINTERNAL},
	} {
		fs.set(func(f *faultyStore) { f.revokeClientErr = tc.err })
		if err := svc.RevokeClient(t.Context(), app.ID); latchkey.ErrorCode(err) != tc.want {
			t.Errorf("%s: RevokeClient = %v, want %s", tc.name, err, tc.want)
		}
	}
}
