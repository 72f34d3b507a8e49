package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/oauthtest"
	"github.com/latchkey/latchkey/internal/service"
)

// defaultedPage is what the consent page says when the application named
// no scope.
const defaultedPage = "The application did not say what it needs"

// TestOAuthDefaultScopes: an authorization request without scope, as MCP
// clients may send it, completes with the client's registered default
// scopes, else the server's; the consent page names what is granted, and
// the token carries it.
func TestOAuthDefaultScopes(t *testing.T) {
	for _, tc := range []struct {
		name           string
		postgres       bool
		serverDefaults []string // --oauth-default-scopes; nil: its default
		clientDefaults []string // client create --default-scopes
		public         bool
		want           []string
	}{
		{"the client's", false, nil, []string{"tokens.read", "tokens.write"}, false, []string{"tokens.read", "tokens.write"}},
		{"the client's, on PostgreSQL", true, nil, []string{"tokens.write", "tokens.read"}, false, []string{"tokens.write", "tokens.read"}},
		{"the client's, a public client", false, nil, []string{"tokens.write"}, true, []string{"tokens.write"}},
		{"the client's before the server's", false, []string{"*"}, []string{"tokens.write"}, false, []string{"tokens.write"}},
		{"the server's default", false, nil, nil, false, []string{"tokens.read"}},
		{"the server's as configured", false, []string{"tokens.write", "tokens.read"}, nil, false, []string{"tokens.write", "tokens.read"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.postgres {
				t.Parallel()
			}
			h := newOAuthHarness(t, func(h *oauthHarness) { h.postgres, h.defaultScopes = tc.postgres, tc.serverDefaults })
			redirect := "http://127.0.0.1:7778/agent/callback"
			c, secret, err := h.svc.RegisterClient(t.Context(), service.NewClient{Name: "Coding Agent", RedirectURIs: []string{redirect},
				Public: tc.public, DefaultScopes: tc.clientDefaults})
			if err != nil {
				t.Fatal(err)
			}
			conf := h.config(c, secret, redirect) // no scope
			b := oauthtest.NewBrowser(t, h.srv.URL)
			verifier := oauth2.GenerateVerifier()
			authURL := conf.AuthCodeURL("state-defaults-1", oauth2.S256ChallengeOption(verifier))
			if strings.Contains(authURL, "scope=") {
				t.Fatalf("the request names a scope: %s", authURL)
			}
			p := b.SignIn("alice", h.alicePassword, b.Get(authURL))
			if !p.IsConsent() {
				t.Fatalf("want the consent page, got %d: %.500s", p.Status, p.Body)
			}
			for _, sc := range latchkey.BuiltinScopes {
				named := strings.Contains(p.Body, fmt.Sprintf("<code>%s</code>", sc))
				if want := contains(tc.want, sc); named != want {
					t.Errorf("consent page names %s: %t, want %t", sc, named, want)
				}
			}
			if !strings.Contains(p.Body, defaultedPage) {
				t.Errorf("the consent page does not say the scopes are the defaults")
			}
			if got := p.Form().Get("scope"); got != strings.Join(tc.want, " ") {
				t.Errorf("the consent form carries scope %q, want %q", got, strings.Join(tc.want, " "))
			}
			q := oauthtest.Callback(t, b.Consent(p, "approve"), redirect)
			if q.Get("code") == "" || q.Get("iss") != h.issuer() {
				t.Fatalf("callback %v: want a code and iss=%s", q, h.issuer())
			}
			tok, err := conf.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatal(err)
			}
			if got := tok.Extra("scope"); got != strings.Join(tc.want, " ") {
				t.Errorf("token answer's scope = %v, want %q", got, strings.Join(tc.want, " "))
			}
			var got []string
			for _, s := range claims(t, tok.AccessToken)["scopes"].([]any) {
				got = append(got, s.(string))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("the token's scopes (-want +got):\n%s", diff)
			}
			consent, err := h.svc.Consent(t.Context(), h.alice.ID, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(latchkey.Scopes(tc.want), consent.Scopes); diff != "" {
				t.Errorf("the consent's scopes (-want +got):\n%s", diff)
			}
		})
	}

	// A request that names scopes gets those, never the defaults; and one
	// that names an explicit scope the person has not approved asks.
	t.Run("named scopes win", func(t *testing.T) {
		h := newOAuthHarness(t)
		redirect := "http://127.0.0.1:7778/agent/callback"
		c, secret, err := h.svc.RegisterClient(t.Context(), service.NewClient{Name: "Coding Agent", RedirectURIs: []string{redirect},
			DefaultScopes: []string{"tokens.write"}})
		if err != nil {
			t.Fatal(err)
		}
		b := oauthtest.NewBrowser(t, h.srv.URL)
		p := b.SignIn("alice", h.alicePassword, b.Get(h.config(c, secret, redirect, "tokens.read").AuthCodeURL("state-defaults-2")))
		if !p.IsConsent() || strings.Contains(p.Body, "<code>tokens.write</code>") || strings.Contains(p.Body, defaultedPage) {
			t.Errorf("consent page for scope=tokens.read: %d %.600s; want tokens.read alone, not called a default", p.Status, p.Body)
		}
	})
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestOAuthIssuerParameter: with --public-url, iss is that URL on
// success and on every error sent back (RFC 9207), as the metadata's
// issuer is.
func TestOAuthIssuerParameter(t *testing.T) {
	h := newOAuthHarness(t, func(h *oauthHarness) { h.publicURL = "https://tokens.example.com" })
	conf := h.config(h.app, h.appSecret, h.redirect, latchkey.ScopeTokensRead)
	b := oauthtest.NewBrowser(t, h.srv.URL)
	p := b.SignIn("alice", h.alicePassword, b.Get(conf.AuthCodeURL("state-iss-1234")))
	q := oauthtest.Callback(t, b.Consent(p, "approve"), h.redirect)
	if q.Get("code") == "" || q.Get("iss") != "https://tokens.example.com" {
		t.Errorf("callback %v: want a code and iss=https://tokens.example.com", q)
	}
	// Remembered consent: straight back, with iss too.
	q = oauthtest.Callback(t, b.Get(conf.AuthCodeURL("state-iss-5678")), h.redirect)
	if q.Get("code") == "" || q.Get("iss") != "https://tokens.example.com" {
		t.Errorf("callback of a remembered consent %v: want a code and iss=https://tokens.example.com", q)
	}
	h.redirectError(t, b.Get(h.config(h.app, "", h.redirect, "admin").AuthCodeURL("state-iss-9999")), h.redirect, "invalid_scope")
	p = b.Get(conf.AuthCodeURL("state-iss-0000", oauth2.SetAuthURLParam("prompt", "consent")))
	h.redirectError(t, b.Consent(p, "deny"), h.redirect, "access_denied")
}

// TestOAuthMetadata: RFC 8414's document names the issuer that
// authorization responses carry, says that they carry it, that the
// resource parameter is taken, and lists the scopes.
func TestOAuthMetadata(t *testing.T) {
	for _, tc := range []struct {
		name      string
		publicURL string
	}{
		{"the request's own origin", ""},
		{"--public-url", "https://tokens.example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newOAuthHarness(t, func(h *oauthHarness) { h.publicURL = tc.publicURL })
			resp, err := http.Get(h.srv.URL + "/.well-known/oauth-authorization-server")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var m struct {
				Issuer             string   `json:"issuer"`
				AuthorizationEP    string   `json:"authorization_endpoint"`
				ScopesSupported    []string `json:"scopes_supported"`
				ISSParamSupported  *bool    `json:"authorization_response_iss_parameter_supported"`
				ResourceIndicators *bool    `json:"resource_indicators_supported"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
				t.Fatal(err)
			}
			if m.Issuer != h.issuer() || m.AuthorizationEP != h.issuer()+"/oauth/authorize" {
				t.Errorf("issuer %q, authorization_endpoint %q; want %q and its /oauth/authorize", m.Issuer, m.AuthorizationEP, h.issuer())
			}
			if m.ISSParamSupported == nil || !*m.ISSParamSupported {
				t.Errorf("authorization_response_iss_parameter_supported = %v, want true", m.ISSParamSupported)
			}
			if m.ResourceIndicators == nil || !*m.ResourceIndicators {
				t.Errorf("resource_indicators_supported = %v, want true (RFC 8707's resource parameter is taken)", m.ResourceIndicators)
			}
			if diff := cmp.Diff(latchkey.BuiltinScopes, m.ScopesSupported); diff != "" {
				t.Errorf("scopes_supported (-want +got):\n%s", diff)
			}
		})
	}
}
