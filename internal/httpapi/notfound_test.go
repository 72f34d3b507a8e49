package httpapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestNotFoundPage: a browser asking for a page the server does not have
// gets the site's styled 404 page; the API, the endpoints programs call,
// and anyone not asking for HTML get the contract's JSON 404.
func TestNotFoundPage(t *testing.T) {
	h := newOAuthHarness(t)
	const browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	for _, tc := range []struct {
		name, path, accept string
		html               bool
	}{
		{"browser, unknown page", "/no/such/page", browser, true},
		{"browser, unknown oauth page", "/oauth/nope", browser, true},
		{"curl", "/no/such/page", "*/*", false},
		{"no Accept", "/no/such/page", "", false},
		{"JSON client", "/no/such/page", "application/json", false},
		{"HTML refused", "/no/such/page", "text/html;q=0, */*", false},
		{"browser, API", "/api/1.0/nope", browser, false},
		{"browser, API root", "/api", browser, false},
		{"browser, token endpoint below", "/oauth/token/x", browser, false},
		{"browser, revoke below", "/oauth/revoke/x", browser, false},
		{"browser, introspect below", "/oauth/introspect/x", browser, false},
		{"browser, well-known", "/.well-known/nope", browser, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, h.srv.URL+tc.path, nil)
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusNotFound {
				t.Fatalf("GET %s (Accept %q) = %d, want 404", tc.path, tc.accept, res.StatusCode)
			}
			ct := res.Header.Get("Content-Type")
			if tc.html {
				if ct != "text/html; charset=utf-8" || !strings.Contains(string(body), `<link rel="stylesheet"`) || !strings.Contains(string(body), "Not found") {
					t.Errorf("GET %s as a browser: %s %.300s; want the styled page", tc.path, ct, body)
				}
				if res.Header.Get("Content-Security-Policy") == "" {
					t.Error("the 404 page has no Content-Security-Policy")
				}
				return
			}
			if ct != "application/json" || string(body) != `{"error":"Not Found"}`+"\n" {
				t.Errorf("GET %s (Accept %q) = %s %s, want the contract's JSON 404", tc.path, tc.accept, ct, body)
			}
		})
	}
}
