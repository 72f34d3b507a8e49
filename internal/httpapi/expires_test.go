package httpapi_test

import (
	"os"
	"regexp"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/oauthtest"
)

// TestOAuthExpiresInAgrees: the token endpoint's expires_in, the access
// token's exp - iat and the docs' example all say the configured
// lifetime, exactly: for a code and for a refresh, and for a lifetime
// other than the default.
func TestOAuthExpiresInAgrees(t *testing.T) {
	for _, tc := range []struct {
		name     string
		lifetime time.Duration
		want     int64
	}{
		{"default", 0, 3600},
		{"configured", 90 * time.Minute, 5400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newOAuthHarness(t, func(h *oauthHarness) { h.accessLifetime = tc.lifetime })
			conf := h.config(h.app, h.appSecret, h.redirect, latchkey.ScopeTokensRead)
			b := oauthtest.NewBrowser(t, h.srv.URL)
			verifier := oauth2.GenerateVerifier()
			code := b.Authorize(conf, "alice", h.alicePassword, oauth2.S256ChallengeOption(verifier))
			tok, err := conf.Exchange(t.Context(), code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatal(err)
			}
			check := func(what string, tok *oauth2.Token) {
				t.Helper()
				c := claims(t, tok.AccessToken)
				exp, iat := int64(c["exp"].(float64)), int64(c["iat"].(float64))
				if tok.ExpiresIn != tc.want || exp-iat != tc.want {
					t.Errorf("%s: expires_in %d, exp - iat %d; want both %d", what, tok.ExpiresIn, exp-iat, tc.want)
				}
			}
			check("code exchange", tok)
			tok2, err := conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Hour)}).Token()
			if err != nil {
				t.Fatal(err)
			}
			check("refresh", tok2)
		})
	}
	// The docs show the default.
	for _, doc := range []string{"../../docs/api.md", "../../README.md"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`"expires_in":\s*(\d+)`).FindAllSubmatch(b, -1) {
			if string(m[1]) != "3600" {
				t.Errorf("%s shows expires_in %s, want 3600 (the default lifetime)", doc, m[1])
			}
		}
	}
}
