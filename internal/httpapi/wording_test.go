package httpapi_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/httpapi"
	"github.com/latchkey/latchkey/internal/oauthtest"
	"github.com/latchkey/latchkey/internal/service"
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

// TestExpiresAtSaysTheFormat: an expiry that is not a date is told the
// contract's sentence first, then the form wanted: RFC 3339 on the API
// (TestCreateValidation), a day on the pages' form.
func TestExpiresAtSaysTheFormat(t *testing.T) {
	req := httpapi.TokenRequestFromForm(url.Values{"name": {"x"}, "expires_at": {"31/01/2027"}})
	want := []string{service.MsgExpiresInvalid, "Use a date as YYYY-MM-DD, e.g. 2027-01-31."}
	if got := req.Invalid.Get("expires_at"); !slices.Equal(got, want) {
		t.Errorf("TokenRequestFromForm(expires_at=31/01/2027) errors %q, want %q", got, want)
	}
	body, err := httpapi.DecodeTokenRequest([]byte(`{"name":"x","expires_at":"2027-01-31"}`))
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"The Expires At field must be a valid date.", "Use an RFC 3339 date and time with a zone, e.g. 2027-01-31T00:00:00Z."}
	if got := body.Invalid.Get("expires_at"); !slices.Equal(got, want) {
		t.Errorf("DecodeTokenRequest(expires_at 2027-01-31) errors %q, want %q", got, want)
	}
}
