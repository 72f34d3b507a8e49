package httpapi_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/oauthtest"
	"github.com/latchkey/latchkey/internal/service"
)

// hookStore runs a function once, just before the next access token is
// stored: the moment between a code or refresh token being marked used
// and the new tokens being written.
type hookStore struct {
	latchkey.Store
	mu     sync.Mutex
	before func()
}

func (s *hookStore) CreateAccessToken(ctx context.Context, t *latchkey.Token, g *latchkey.Grant, audit ...*latchkey.AuditRecord) error {
	s.mu.Lock()
	f := s.before
	s.before = nil
	s.mu.Unlock()
	if f != nil {
		f()
	}
	return s.Store.CreateAccessToken(ctx, t, g, audit...)
}

func (s *hookStore) next(f func()) {
	s.mu.Lock()
	s.before = f
	s.mu.Unlock()
}

// TestOAuthRevokedWhileIssued: a revocation that runs while tokens are
// being issued under the same authorization is not outrun by them.
func TestOAuthRevokedWhileIssued(t *testing.T) {
	for _, pg := range []bool{false, true} {
		t.Run(map[bool]string{false: "sqlite", true: "postgres"}[pg], func(t *testing.T) {
			hs := &hookStore{}
			h := newOAuthHarness(t, func(h *oauthHarness) {
				h.postgres = pg
				h.wrap = func(st latchkey.Store) latchkey.Store { hs.Store = st; return hs }
			})
			ctx := t.Context()
			conf := h.config(h.app, h.appSecret, h.redirect, latchkey.ScopeTokensRead)
			b := oauthtest.NewBrowser(t, h.srv.URL)
			v := oauth2.GenerateVerifier()
			code := func() string { return b.Authorize(conf, "alice", h.alicePassword, oauth2.S256ChallengeOption(v)) }
			refresh := func(rt string) (*oauth2.Token, error) {
				return conf.TokenSource(ctx, &oauth2.Token{RefreshToken: rt, Expiry: time.Now().Add(-time.Hour)}).Token()
			}
			dead := func(what string, tok *oauth2.Token) {
				t.Helper()
				if got := h.api(tok.AccessToken, h.alice); got != http.StatusUnauthorized {
					t.Errorf("%s: its access token answers %d, want 401", what, got)
				}
				if _, err := refresh(tok.RefreshToken); err == nil {
					t.Errorf("%s: its refresh token still refreshes", what)
				}
			}

			t.Run("the code reused while its first exchange is in flight", func(t *testing.T) {
				c := code()
				hs.next(func() {
					_, err := conf.Exchange(context.WithoutCancel(ctx), c, oauth2.VerifierOption(v))
					if got := oauthError(t, err); got != "invalid_grant" {
						t.Errorf("the reuse: %s, want invalid_grant", got)
					}
				})
				tok, err := conf.Exchange(ctx, c, oauth2.VerifierOption(v))
				if err == nil {
					dead("the first exchange", tok)
				} else if got := oauthError(t, err); got != "invalid_grant" {
					t.Errorf("the first exchange: %s, want invalid_grant or tokens that are revoked", got)
				}
			})

			t.Run("consent withdrawn while a refresh is in flight", func(t *testing.T) {
				tok, err := conf.Exchange(ctx, code(), oauth2.VerifierOption(v))
				if err != nil {
					t.Fatal(err)
				}
				hs.next(func() {
					if err := h.svc.RevokeConsent(context.WithoutCancel(ctx), &latchkey.Principal{User: h.alice}, h.app.ID); err != nil {
						t.Errorf("RevokeConsent: %v", err)
					}
				})
				tok2, err := refresh(tok.RefreshToken)
				if err == nil {
					dead("the refresh that raced the withdrawal", tok2)
				} else if got := oauthError(t, err); got != "invalid_grant" {
					t.Errorf("the refresh: %s, want invalid_grant", got)
				}
			})

			t.Run("consent withdrawn and given again while a refresh is in flight", func(t *testing.T) {
				tok, err := conf.Exchange(ctx, code(), oauth2.VerifierOption(v))
				if err != nil {
					t.Fatal(err)
				}
				hs.next(func() {
					wctx := context.WithoutCancel(ctx)
					if err := h.svc.RevokeConsent(wctx, &latchkey.Principal{User: h.alice}, h.app.ID); err != nil {
						t.Errorf("RevokeConsent: %v", err)
					}
					if err := h.svc.ApproveConsent(wctx, h.alice.ID, h.app.ID, latchkey.Scopes{latchkey.ScopeTokensRead}); err != nil {
						t.Errorf("ApproveConsent: %v", err)
					}
				})
				tok2, err := refresh(tok.RefreshToken)
				if err == nil {
					dead("the old authorization's refresh, after a new approval", tok2)
				} else if got := oauthError(t, err); got != "invalid_grant" {
					t.Errorf("the refresh: %s, want invalid_grant", got)
				}
			})
		})
	}
}

// TestOAuthIntrospectNeedsClient: only a confidential client's own
// credentials open introspection; a token in their place does not.
func TestOAuthIntrospectNeedsClient(t *testing.T) {
	h := newOAuthHarness(t)
	ctx := t.Context()
	name := "alice's"
	_, alices, err := h.svc.OperatorCreateToken(ctx, h.alice, service.TokenRequest{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	name = "bob's"
	_, bobs, err := h.svc.OperatorCreateToken(ctx, h.bob, service.TokenRequest{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	self, selfSecret, err := h.svc.RegisterSelf(ctx, latchkey.Origin{Address: "192.0.2.7"}, service.NewClient{
		Name: "Anyone", RedirectURIs: []string{"https://anyone.example/cb"}})
	if err != nil || self.Public() {
		t.Fatalf("RegisterSelf() = %+v, %v; want a confidential client", self, err)
	}
	do := func(path string, form url.Values, auth func(*http.Request)) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, h.srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		auth(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		n, _ := resp.Body.Read(buf)
		b.Write(buf[:n])
		return resp.StatusCode, b.String()
	}
	for _, tc := range []struct {
		name string
		path string
		form url.Values
		auth func(*http.Request)
	}{
		{"a token as access_token, with bogus Basic", "/oauth/introspect", url.Values{"token": {bobs}, "access_token": {alices}}, func(r *http.Request) { r.SetBasicAuth("no-such-client", "x") }},
		{"a token as access_token in the query", "/oauth/introspect?access_token=" + url.QueryEscape(alices), url.Values{"token": {bobs}}, func(r *http.Request) { r.SetBasicAuth("no-such-client", "x") }},
		{"a bearer token", "/oauth/introspect", url.Values{"token": {bobs}}, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+alices) }},
		{"a public client", "/oauth/introspect", url.Values{"token": {bobs}}, func(r *http.Request) { r.SetBasicAuth("3", "") }},
		{"a wrong secret", "/oauth/introspect", url.Values{"token": {bobs}}, func(r *http.Request) { r.SetBasicAuth("2", "wrong") }},
		// Where registration is open, anyone can be one.
		{"a self-registered client", "/oauth/introspect", url.Values{"token": {bobs}}, func(r *http.Request) {
			r.SetBasicAuth(strconv.FormatInt(self.ID, 10), url.QueryEscape(selfSecret))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := do(tc.path, tc.form, tc.auth)
			if status == http.StatusOK || strings.Contains(body, `"active":true`) {
				t.Fatalf("%d %s: introspection answered without a client's credentials", status, body)
			}
		})
	}
	// The right credentials, with a 401's challenge checked on the way.
	status, body := do("/oauth/introspect", url.Values{"token": {bobs}}, func(r *http.Request) { r.SetBasicAuth("2", url.QueryEscape(h.appSecret)) })
	if status != http.StatusOK || !strings.Contains(body, `"active":true`) {
		t.Errorf("introspection by the application: %d %s", status, body)
	}
}

// TestOAuthEndpointAnswers: the small print of RFC 6749 and 8414.
func TestOAuthEndpointAnswers(t *testing.T) {
	h := newOAuthHarness(t)
	for _, path := range []string{"/oauth/token", "/oauth/revoke", "/oauth/introspect"} {
		req, _ := http.NewRequest(http.MethodPost, h.srv.URL+path, strings.NewReader("grant_type=refresh_token&refresh_token=x&token=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("2", "wrong")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("POST %s with a wrong secret: %d WWW-Authenticate %q, want 401 with a challenge", path, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		resp, err = http.Get(h.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
			t.Errorf("GET %s: %d Allow %q, want 405 Allow: POST", path, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
}

func TestOAuthPrompt(t *testing.T) {
	h := newOAuthHarness(t)
	conf := h.config(h.app, h.appSecret, h.redirect, latchkey.ScopeTokensRead)
	v := oauth2.GenerateVerifier()
	pkce := oauth2.S256ChallengeOption(v)
	b := oauthtest.NewBrowser(t, h.srv.URL)
	b.Client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	// Signed out, prompt=none: no page, login_required.
	h.redirectError(t, b.Get(conf.AuthCodeURL("state-12345678", pkce, oauth2.SetAuthURLParam("prompt", "none"))), h.redirect, "login_required")

	b = oauthtest.NewBrowser(t, h.srv.URL)
	b.Authorize(conf, "alice", h.alicePassword, pkce) // signed in, approved
	b.Client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	// Approved before: prompt=none goes straight back with a code.
	if q := oauthtest.Callback(t, b.Get(conf.AuthCodeURL("state-12345678", pkce, oauth2.SetAuthURLParam("prompt", "none"))), h.redirect); q.Get("code") == "" {
		t.Errorf("prompt=none after approval: %v, want a code", q)
	}
	// More than approved: consent_required, not a page.
	wider := h.config(h.app, h.appSecret, h.redirect, latchkey.ScopeTokensWrite)
	h.redirectError(t, b.Get(wider.AuthCodeURL("state-12345678", pkce, oauth2.SetAuthURLParam("prompt", "none"))), h.redirect, "consent_required")
	// response_mode=query, as the metadata says, works.
	if q := oauthtest.Callback(t, b.Get(conf.AuthCodeURL("state-12345678", pkce, oauth2.SetAuthURLParam("response_mode", "query"))), h.redirect); q.Get("code") == "" {
		t.Errorf("response_mode=query: %v, want a code", q)
	}
	// none with anything else is a contradiction.
	h.redirectError(t, b.Get(conf.AuthCodeURL("state-12345678", pkce, oauth2.SetAuthURLParam("prompt", "none login"))), h.redirect, "invalid_request")
	// prompt=login asks for the password again, though signed in, and
	// comes back without asking a third time.
	p := b.Get(conf.AuthCodeURL("state-12345678", pkce, oauth2.SetAuthURLParam("prompt", "login")))
	if p.Location == nil || p.Location.Path != "/login" || strings.Contains(p.Location.Query().Get("return"), "prompt") {
		t.Fatalf("prompt=login: %d to %v, want the sign-in page and a way back without prompt", p.Status, p.Location)
	}
	if login := b.Get(p.Location.String()); !login.IsSignIn() {
		t.Fatalf("prompt=login, signed in: %d %v, want the sign-in form shown, not skipped", login.Status, login.Location)
	}
	b.Client.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if strings.HasSuffix(req.URL.Path, "callback") {
			return http.ErrUseLastResponse
		}
		return nil
	}
	q := oauthtest.Callback(t, b.SignIn("alice", h.alicePassword, b.Get(p.Location.String())), h.redirect)
	if q.Get("code") == "" {
		t.Errorf("after signing in again: %v, want a code", q)
	}
}

// TestOAuthPublicClientAlwaysAsks: any program may claim a public
// client's id, so a remembered approval does not skip the page.
func TestOAuthPublicClientAlwaysAsks(t *testing.T) {
	h := newOAuthHarness(t)
	conf := h.config(h.native, "", h.nativeRedirect, latchkey.ScopeTokensRead)
	v := oauth2.GenerateVerifier()
	b := oauthtest.NewBrowser(t, h.srv.URL)
	b.Authorize(conf, "alice", h.alicePassword, oauth2.S256ChallengeOption(v))
	if p := b.Get(conf.AuthCodeURL("state-12345678", oauth2.S256ChallengeOption(v))); !p.IsConsent() {
		t.Errorf("a public client's second authorization: %d %v, want the consent page again", p.Status, p.Location)
	}
}

// TestOAuthRevokeExpiredAccessToken: revoking an access token that has
// expired still ends the authorization behind it.
func TestOAuthRevokeExpiredAccessToken(t *testing.T) {
	h := newOAuthHarness(t)
	ctx := t.Context()
	conf := h.config(h.app, h.appSecret, h.redirect, latchkey.ScopeTokensRead)
	v := oauth2.GenerateVerifier()
	b := oauthtest.NewBrowser(t, h.srv.URL)
	tok, err := conf.Exchange(ctx, b.Authorize(conf, "alice", h.alicePassword, oauth2.S256ChallengeOption(v)), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(oauth.DefaultAccessTokenLifetime)
	if status, body := h.post("/oauth/revoke", h.app, h.appSecret, url.Values{"token": {tok.AccessToken}}); status != http.StatusOK {
		t.Fatalf("revoke: %d %v", status, body)
	}
	_, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Hour)}).Token()
	if got := oauthError(t, err); got != "invalid_grant" {
		t.Errorf("refresh after its expired access token was revoked: %s, want invalid_grant", got)
	}
}

// TestOAuthRevokeNeedsOurSignature: /oauth/revoke finds a token by its id
// only when the token is one this server signed; a hand-made one naming a
// real token's id ends nothing.
func TestOAuthRevokeNeedsOurSignature(t *testing.T) {
	h := newOAuthHarness(t)
	ctx := t.Context()
	conf := h.config(h.native, "", h.nativeRedirect, latchkey.ScopeTokensRead)
	v := oauth2.GenerateVerifier()
	b := oauthtest.NewBrowser(t, h.srv.URL)
	tok, err := conf.Exchange(ctx, b.Authorize(conf, "alice", h.alicePassword, oauth2.S256ChallengeOption(v)), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	jti := claims(t, tok.AccessToken)["jti"].(string)
	enc := base64.RawURLEncoding.EncodeToString
	forged := enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc([]byte(`{"jti":"`+jti+`"}`)) + "."
	if status, body := h.post("/oauth/revoke", nil, "", url.Values{"token": {forged}, "client_id": {strconv.FormatInt(h.native.ID, 10)}}); status != http.StatusOK {
		t.Fatalf("revoke of a forged token: %d %v, want 200 (an unknown token)", status, body)
	}
	if got := h.api(tok.AccessToken, h.alice); got != http.StatusOK {
		t.Errorf("the real token after a forged one naming it was revoked: %d, want 200", got)
	}
}
