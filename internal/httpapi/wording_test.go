package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/oauthtest"
)

// TestOAuthRefusalPagesInPlainWords: an authorization request refused on
// our own page (it cannot go back to the application) is explained in our
// words, never fosite's developer wording; the RFC 6749 code is shown.
func TestOAuthRefusalPagesInPlainWords(t *testing.T) {
	h := newOAuthHarness(t)
	b := oauthtest.NewBrowser(t, h.srv.URL)
	b.SignIn("alice", h.alicePassword, b.Get(h.srv.URL+"/login"))
	for _, tc := range []struct {
		name, url, code, says string
	}{
		{"unknown client", h.config(&latchkey.Client{ID: 99999}, "", h.redirect, "tokens.read").AuthCodeURL("state-12345678"),
			"invalid_client", "The application that sent you here is not one this server knows"},
		{"unregistered redirect URI", h.config(h.app, "", "https://evil.example/cb", "tokens.read").AuthCodeURL("state-12345678"),
			"invalid_request", "does not match how the application was registered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.Get(tc.url)
			if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, tc.says) || !strings.Contains(p.Body, tc.code) {
				t.Errorf("page %d: want 400 saying %q with the code %s:\n%s", p.Status, tc.says, tc.code, p.Body[strings.Index(p.Body, "<main"):])
			}
			for _, fosite := range []string{"Client authentication failed", "e.g.", "The request is missing a required parameter", "OAuth 2.0 Client"} {
				if strings.Contains(p.Body, fosite) {
					t.Errorf("the page shows fosite's wording %q", fosite)
				}
			}
		})
	}
}
