package oauth

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite/token/hmac"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/jwt"
	"github.com/latchkey/latchkey/internal/service"
)

const (
	testRedirect = "https://app.example/callback"
	testVerifier = "a-PKCE-verifier-of-forty-three-characters-or-more"
)

// app is an application's way through the provider: a code made as the
// person approves, then the token endpoints, called as the application.
type app struct {
	t      *testing.T
	p      *Provider
	client *latchkey.Client
	secret string // "" for a public client
	userID int64
}

// newApp registers an application (public or not) that alice approved.
func newApp(t *testing.T, p *Provider, svc *service.Service, public bool) *app {
	t.Helper()
	c, secret, err := svc.RegisterClient(t.Context(), service.NewClient{Name: "App", RedirectURIs: []string{testRedirect}, Public: public})
	if err != nil {
		t.Fatal(err)
	}
	u, err := svc.FindUser(t.Context(), "alice")
	if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
		u, err = svc.CreateUser(t.Context(), service.NewUser{Username: "alice", Email: "alice@example.com"})
	}
	if err != nil {
		t.Fatal(err)
	}
	// Tokens are issued only under a consent (AuthorizationLive).
	if err := svc.ApproveConsent(t.Context(), u.ID, c.ID, latchkey.Scopes{latchkey.ScopeTokensRead}); err != nil {
		t.Fatal(err)
	}
	return &app{t: t, p: p, client: c, secret: secret, userID: u.ID}
}

// code returns a code for tokens.read, with an S256 challenge of
// testVerifier.
func (a *app) code() string {
	a.t.Helper()
	sum := sha256.Sum256([]byte(testVerifier))
	q := url.Values{"response_type": {"code"}, "client_id": {strconv.FormatInt(a.client.ID, 10)}, "redirect_uri": {testRedirect},
		"scope": {latchkey.ScopeTokensRead}, "state": {"a state of some length"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	r := httptest.NewRequestWithContext(a.t.Context(), http.MethodGet, "/oauth/authorize?"+q.Encode(), nil)
	ar, err := a.p.ParseAuthorize(a.t.Context(), r)
	if err != nil {
		a.t.Fatal(err)
	}
	w := httptest.NewRecorder()
	a.p.Approve(a.t.Context(), w, ar, "https://latchkey.example", a.userID)
	loc, err := url.Parse(w.Header().Get("Location"))
	if err != nil {
		a.t.Fatal(err)
	}
	code := loc.Query().Get("code")
	if code == "" {
		a.t.Fatalf("Approve redirected to %s, want a code", loc)
	}
	return code
}

// post sends form to endpoint as the application, and returns the status
// and the JSON answer, if any.
func (a *app) post(endpoint http.HandlerFunc, form url.Values) (int, map[string]any) {
	a.t.Helper()
	if a.secret == "" {
		form.Set("client_id", strconv.FormatInt(a.client.ID, 10))
	}
	r := httptest.NewRequestWithContext(a.t.Context(), http.MethodPost, "/oauth/endpoint", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if a.secret != "" {
		r.SetBasicAuth(strconv.FormatInt(a.client.ID, 10), a.secret)
	}
	w := httptest.NewRecorder()
	endpoint(w, r)
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil && w.Body.Len() > 0 {
		a.t.Fatalf("%d %s: not JSON", w.Code, w.Body)
	}
	return w.Code, body
}

// exchange trades code for tokens, with verifier when it is not "".
func (a *app) exchange(code, verifier string) (int, map[string]any) {
	a.t.Helper()
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}}
	if verifier != "" {
		f.Set("code_verifier", verifier)
	}
	return a.post(a.p.Token, f)
}

// tokens trades code for an access token and a refresh token.
func (a *app) tokens(code string) (access, refresh string) {
	a.t.Helper()
	status, body := a.exchange(code, testVerifier)
	access, _ = body["access_token"].(string)
	refresh, _ = body["refresh_token"].(string)
	if status != http.StatusOK || access == "" || refresh == "" {
		a.t.Fatalf("exchange: %d %v, want 200 and two tokens", status, body)
	}
	return access, refresh
}

func (a *app) refresh(token string) (int, map[string]any) {
	a.t.Helper()
	return a.post(a.p.Token, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}})
}

// active says what introspection says of token.
func (a *app) active(token string) bool {
	a.t.Helper()
	status, body := a.post(a.p.Introspect, url.Values{"token": {token}})
	if status != http.StatusOK {
		a.t.Fatalf("introspect: %d %v", status, body)
	}
	return body["active"] == true
}

// grant is the stored grant of a code or refresh token.
func (a *app) grant(kind latchkey.GrantKind, token string) *latchkey.Grant {
	a.t.Helper()
	g, err := a.p.store.st.Grant(a.t.Context(), kind, hashSignature((&hmac.HMACStrategy{}).Signature(token)))
	if err != nil {
		a.t.Fatal(err)
	}
	return g
}

// TestGrantsDatedByTheServiceClock: a code and a refresh token are stored
// made at the service's time, expiring their lifetime later.
func TestGrantsDatedByTheServiceClock(t *testing.T) {
	p, svc, clk := newProvider(t)
	a := newApp(t, p, svc, false)
	code := a.code()
	made := clk.Now()
	clk.Advance(time.Minute)
	_, refresh := a.tokens(code)
	for _, tc := range []struct {
		name     string
		g        *latchkey.Grant
		made     time.Time
		lifetime time.Duration
	}{
		{"code", a.grant(latchkey.GrantCode, code), made, DefaultCodeLifetime},
		{"refresh token", a.grant(latchkey.GrantRefresh, refresh), made.Add(time.Minute), DefaultRefreshTokenLifetime},
	} {
		if !tc.g.CreatedAt.Equal(tc.made) || !tc.g.ExpiresAt.Equal(tc.made.Add(tc.lifetime)) {
			t.Errorf("%s: made %s, expiring %s; want %s and %s later", tc.name, tc.g.CreatedAt, tc.g.ExpiresAt, tc.made, tc.lifetime)
		}
	}
}

// TestExpiryOnTheServiceClock: codes, refresh tokens and access tokens
// expire when the service's clock says so, whatever the wall clock says
// (the test clock is years behind it).
func TestExpiryOnTheServiceClock(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after time.Duration // the clock moves this far after the grant is made
		ok    bool
	}{
		{"just before", -time.Second, true},
		{"at expiry", 0, false},
	} {
		t.Run("code "+tc.name, func(t *testing.T) {
			p, svc, clk := newProvider(t)
			a := newApp(t, p, svc, false)
			code := a.code()
			clk.Advance(DefaultCodeLifetime + tc.after)
			status, body := a.exchange(code, testVerifier)
			if ok := status == http.StatusOK; ok != tc.ok || !ok && body["error"] != "invalid_grant" {
				t.Errorf("exchange: %d %v, want it accepted %t (else invalid_grant)", status, body, tc.ok)
			}
		})
		t.Run("refresh token "+tc.name, func(t *testing.T) {
			p, svc, clk := newProvider(t)
			a := newApp(t, p, svc, false)
			_, refresh := a.tokens(a.code())
			clk.Advance(DefaultRefreshTokenLifetime + tc.after)
			if got := a.active(refresh); got != tc.ok {
				t.Errorf("introspect: active %t, want %t", got, tc.ok)
			}
			status, body := a.refresh(refresh)
			if ok := status == http.StatusOK; ok != tc.ok || !ok && body["error"] != "invalid_grant" {
				t.Errorf("refresh: %d %v, want it accepted %t (else invalid_grant)", status, body, tc.ok)
			}
		})
		t.Run("access token "+tc.name, func(t *testing.T) {
			p, svc, clk := newProvider(t)
			a := newApp(t, p, svc, false)
			access, _ := a.tokens(a.code())
			clk.Advance(DefaultAccessTokenLifetime + tc.after)
			if got := a.active(access); got != tc.ok {
				t.Errorf("introspect: active %t, want %t", got, tc.ok)
			}
		})
	}
}

// TestRevokeExpiredAccessToken: revoking an access token that has expired
// still ends the authorization behind it: its refresh token is refused.
func TestRevokeExpiredAccessToken(t *testing.T) {
	p, svc, clk := newProvider(t)
	a := newApp(t, p, svc, false)
	access, refresh := a.tokens(a.code())
	clk.Advance(DefaultAccessTokenLifetime)
	if status, body := a.post(p.Revoke, url.Values{"token": {access}}); status != http.StatusOK {
		t.Fatalf("revoke: %d %v", status, body)
	}
	if status, body := a.refresh(refresh); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("refresh after its expired access token was revoked: %d %v, want 400 invalid_grant", status, body)
	}
}

// TestExchangePKCE: at the token endpoint a code made with a challenge
// needs its verifier, from a public client or a confidential one, and
// the challenge outlives a failed attempt: a retry without a verifier is
// no exchange "without PKCE".
func TestExchangePKCE(t *testing.T) {
	for _, public := range []bool{true, false} {
		t.Run(map[bool]string{true: "public", false: "confidential"}[public], func(t *testing.T) {
			p, svc, _ := newProvider(t)
			a := newApp(t, p, svc, public)
			for _, tc := range []struct {
				name      string
				verifiers []string // tried in turn on one code
			}{
				{"no verifier", []string{""}},
				{"a wrong verifier", []string{"another-verifier-of-forty-three-characters-or-more"}},
				{"no verifier after a wrong one", []string{"another-verifier-of-forty-three-characters-or-more", ""}},
			} {
				code := a.code()
				for i, v := range tc.verifiers {
					if status, body := a.exchange(code, v); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
						t.Errorf("%s: attempt %d: %d %v, want 400 invalid_grant", tc.name, i+1, status, body)
					}
				}
			}
		})
	}
}

// TestReuseAfterExpiry: a used code or refresh token presented again is a
// reuse, and ends its authorization, even once it has expired.
func TestReuseAfterExpiry(t *testing.T) {
	t.Run("code", func(t *testing.T) {
		p, svc, clk := newProvider(t)
		a := newApp(t, p, svc, false)
		code := a.code()
		access, _ := a.tokens(code)
		clk.Advance(DefaultCodeLifetime)
		if status, body := a.exchange(code, testVerifier); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("the expired code again: %d %v, want 400 invalid_grant", status, body)
		}
		if a.active(access) {
			t.Error("the access token its first exchange gave is still active")
		}
	})
	t.Run("refresh token", func(t *testing.T) {
		p, svc, clk := newProvider(t)
		a := newApp(t, p, svc, false)
		_, first := a.tokens(a.code())
		clk.Advance(24 * time.Hour)
		status, body := a.refresh(first)
		second, _ := body["refresh_token"].(string)
		if status != http.StatusOK || second == "" {
			t.Fatalf("refresh: %d %v", status, body)
		}
		clk.Advance(DefaultRefreshTokenLifetime - 24*time.Hour) // the first expired, the second not
		if status, body := a.refresh(first); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("the expired refresh token again: %d %v, want 400 invalid_grant", status, body)
		}
		if status, body := a.refresh(second); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("the newer refresh token after the reuse: %d %v, want 400 invalid_grant", status, body)
		}
	})
}

// TestAccessTokensOfEachAlgorithm: with a signing key of each algorithm,
// the token endpoint issues access tokens signed by it, which introspect
// as active and authenticate; after a rotation to another algorithm, they
// still do, and a refresh issues a token of the new key.
func TestAccessTokensOfEachAlgorithm(t *testing.T) {
	for _, alg := range jwt.Algorithms() {
		t.Run(alg, func(t *testing.T) {
			p, svc, _ := newProvider(t)
			k, err := svc.RotateKey(t.Context(), alg)
			if err != nil {
				t.Fatal(err)
			}
			a := newApp(t, p, svc, false)
			access, refresh := a.tokens(a.code())
			if gotAlg, kid := jwtHeader(t, access); gotAlg != alg || kid != k.ID {
				t.Errorf("the access token is %s by %s, want %s by %s", gotAlg, kid, alg, k.ID)
			}
			check := func(when, token string) {
				t.Helper()
				if !a.active(token) {
					t.Errorf("%s: introspection says the access token is not active", when)
				}
				if _, err := svc.Authenticate(t.Context(), token, latchkey.Origin{}); err != nil {
					t.Errorf("%s: Authenticate(access token) = %v", when, err)
				}
			}
			check("signed", access)

			next := jwt.Algorithms()[(slices.Index(jwt.Algorithms(), alg)+1)%len(jwt.Algorithms())]
			k2, err := svc.RotateKey(t.Context(), next)
			if err != nil {
				t.Fatal(err)
			}
			check("after a rotation to "+next, access)
			status, body := a.refresh(refresh)
			renewed, _ := body["access_token"].(string)
			if status != http.StatusOK || renewed == "" {
				t.Fatalf("refresh: %d %v", status, body)
			}
			if gotAlg, kid := jwtHeader(t, renewed); gotAlg != next || kid != k2.ID {
				t.Errorf("the refreshed access token is %s by %s, want %s by %s", gotAlg, kid, next, k2.ID)
			}
			check("refreshed", renewed)
		})
	}
}

// jwtHeader is the alg and kid of a JWT's header.
func jwtHeader(t *testing.T, token string) (alg, kid string) {
	t.Helper()
	alg, kid, ok := jwt.Header(token)
	if !ok {
		t.Fatalf("%q has no JWT header", token)
	}
	return alg, kid
}
