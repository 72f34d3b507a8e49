package httpapi_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// sendHeadOnly sends a request's head, announcing a body of length bytes
// with Expect: 100-continue, and reads the first answer: what curl sees
// before it sends a large body.
func sendHeadOnly(t *testing.T, base, method, path string, header http.Header, length int) *http.Response {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	// A guard against a server that waits for the body: not a timing
	// assertion.
	conn.SetDeadline(time.Now().Add(time.Minute))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nExpect: 100-continue\r\n", method, path, u.Host, length)
	for k, vs := range header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	if _, err := conn.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s with Expect: 100-continue: %v", method, path, err)
	}
	return res
}

// TestExpectContinueOverLimit: a body whose Content-Length is over the
// limit is answered 413 at once, in each place's own shape, without
// 100 Continue: the API, the forms and the OAuth endpoints.
func TestExpectContinueOverLimit(t *testing.T) {
	h := newOAuthHarness(t)
	api := newHarness(t)
	const over = 64<<10 + 1
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	for _, tc := range []struct {
		name, base, method, path string
		header                   http.Header
		contentType              string
	}{
		{"API create", api.srv.URL, "POST", tokensPath(api.user.ID), http.Header{"Authorization": {bearer(api.userJWT)}, "Content-Type": {"application/json"}}, "application/json"},
		{"sign-in form", h.srv.URL, "POST", "/login", form, "text/html; charset=utf-8"},
		{"token form", h.srv.URL, "POST", "/tokens", form, "text/html; charset=utf-8"},
		{"consent form", h.srv.URL, "POST", "/oauth/authorize", form, "text/html; charset=utf-8"},
		{"token endpoint", h.srv.URL, "POST", "/oauth/token", form, "application/json"},
		{"revocation endpoint", h.srv.URL, "POST", "/oauth/revoke", form, "application/json"},
		{"introspection endpoint", h.srv.URL, "POST", "/oauth/introspect", form, "application/json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := sendHeadOnly(t, tc.base, tc.method, tc.path, tc.header, over)
			defer res.Body.Close()
			if res.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("%s %s announcing %d bytes: %d %s, want 413 before any body is sent", tc.method, tc.path, over, res.StatusCode, res.Status)
			}
			if ct := res.Header.Get("Content-Type"); ct != tc.contentType {
				t.Errorf("Content-Type %q, want %q", ct, tc.contentType)
			}
		})
	}
	// At the limit, the server asks for the body.
	res := sendHeadOnly(t, api.srv.URL, "POST", tokensPath(api.user.ID), http.Header{"Authorization": {bearer(api.userJWT)}, "Content-Type": {"application/json"}}, 64<<10)
	res.Body.Close()
	if res.StatusCode != http.StatusContinue {
		t.Errorf("a body of exactly 64 KiB announced: %d, want 100 Continue", res.StatusCode)
	}
}
