package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/cimd"
	"github.com/latchkey/latchkey/internal/cimd/cimdtest"
	"github.com/latchkey/latchkey/internal/httpapi"
	"github.com/latchkey/latchkey/internal/jwt"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/oauthtest"
	"github.com/latchkey/latchkey/internal/password"
	"github.com/latchkey/latchkey/internal/pgtest"
	"github.com/latchkey/latchkey/internal/postgres"
	"github.com/latchkey/latchkey/internal/service"
	"github.com/latchkey/latchkey/internal/sqlitetest"
	"github.com/latchkey/latchkey/internal/ssrf"
)

// oauthHarness is the whole server, authorization server included, on a
// real SQLite database, with the service's clock moved by hand (the
// authorization server reads it too).
type oauthHarness struct {
	t     testing.TB
	srv   *httptest.Server
	svc   *service.Service
	store latchkey.Store
	clock *clock
	// postgres: run on PostgreSQL instead of SQLite.
	postgres bool
	// secureCookies: the server's --secure-cookies.
	secureCookies bool
	// wrap, when set, wraps the store the server uses.
	wrap func(latchkey.Store) latchkey.Store
	// publicURL: the server's --public-url ("": each request's own).
	publicURL string
	// defaultScopes: the server's --oauth-default-scopes (nil: its
	// default).
	defaultScopes []string
	// registration: the server's --oauth-registration ("": off).
	registration httpapi.RegistrationMode
	// documents, when set, serves clients' metadata documents, and the
	// server takes client_id URLs, fetching them as serve does but from
	// the loopback, and trusting documents' test authority; strictFetch
	// refuses the loopback, as serve does.
	documents   *cimdtest.Server
	strictFetch bool
	// extraScopes: the server's --extra-scopes.
	extraScopes []string

	alice, bob       *latchkey.User
	app              *latchkey.Client // confidential
	appSecret        string
	native           *latchkey.Client // public: PKCE required
	other            *latchkey.Client // another confidential client
	otherSecret      string
	redirect         string // the app's registered redirect URI
	nativeRedirect   string
	otherRedirect    string
	alicePassword    string
	bobPassword      string
	limits           httpapi.Limits
	accessLifetime   time.Duration
	refreshLifetimes time.Duration
}

func newOAuthHarness(t testing.TB, configure ...func(*oauthHarness)) *oauthHarness {
	t.Helper()
	h := &oauthHarness{t: t, alicePassword: "correct horse battery staple", bobPassword: "bob's own passphrase"}
	for _, f := range configure {
		f(h)
	}
	ctx := t.Context()
	var st latchkey.Store
	if !h.postgres {
		st = sqlitetest.Open(t)
	} else {
		pg, err := postgres.Open(ctx, pgtest.Schema(t, pgtest.DSN(t)), postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pg.Close() })
		if err := pg.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		st = pg
	}
	if h.wrap != nil {
		st = h.wrap(st)
	}
	sealer, err := jwt.NewSealer([]byte("a test secret of enough length"))
	if err != nil {
		t.Fatal(err)
	}
	fast := password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	h.clock = &clock{now: start}
	svc, err := service.New(ctx, st, sealer, service.Config{Password: &fast, Now: h.clock.Now, ExtraScopes: h.extraScopes})
	if err != nil {
		t.Fatal(err)
	}
	h.svc, h.store = svc, st
	var fetcher *cimd.Fetcher
	if h.documents != nil {
		fetcher = cimd.New(cimd.Options{Policy: ssrf.Policy{AllowLoopback: !h.strictFetch}, RootCAs: h.documents.Roots, Now: h.clock.Now})
	}
	prov, err := oauth.New(svc, st, oauth.Config{
		Secret:               svc.DeriveKey(oauth.SecretInfo),
		AccessTokenLifetime:  h.accessLifetime,
		RefreshTokenLifetime: h.refreshLifetimes,
		DefaultScopes:        h.defaultScopes,
		ClientMetadata:       fetcher,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewServer(httpapi.New(svc, httpapi.Options{OAuth: prov, Limits: h.limits, SecureCookies: h.secureCookies, PublicURL: h.publicURL, Registration: h.registration}))
	t.Cleanup(h.srv.Close)

	h.alice = h.newUser("alice", h.alicePassword)
	h.bob = h.newUser("bob", h.bobPassword)
	h.redirect = h.srv.URL + "/callback"
	h.nativeRedirect = "http://127.0.0.1:7777/native"
	h.otherRedirect = h.srv.URL + "/other/callback"
	h.app, h.appSecret = h.register("Report Builder", false, h.redirect)
	h.native, _ = h.register("Desktop App", true, h.nativeRedirect)
	h.other, h.otherSecret = h.register("Other App", false, h.otherRedirect)
	return h
}

func (h *oauthHarness) newUser(name, pw string) *latchkey.User {
	h.t.Helper()
	u, err := h.svc.CreateUser(h.t.Context(), service.NewUser{Username: name, Email: name + "@example.com", Password: pw})
	if err != nil {
		h.t.Fatal(err)
	}
	return u
}

func (h *oauthHarness) register(name string, public bool, uris ...string) (*latchkey.Client, string) {
	h.t.Helper()
	c, secret, err := h.svc.RegisterClient(h.t.Context(), service.NewClient{Name: name, RedirectURIs: uris, Public: public})
	if err != nil {
		h.t.Fatal(err)
	}
	return c, secret
}

// issuer is the server's issuer, as its metadata names it.
func (h *oauthHarness) issuer() string {
	if h.publicURL != "" {
		return h.publicURL
	}
	return h.srv.URL
}

// config is the x/oauth2 configuration of client c.
func (h *oauthHarness) config(c *latchkey.Client, secret, redirect string, scopes ...string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     strconv.FormatInt(c.ID, 10),
		ClientSecret: secret,
		Endpoint: oauth2.Endpoint{
			AuthURL:  h.srv.URL + "/oauth/authorize",
			TokenURL: h.srv.URL + "/oauth/token",
		},
		RedirectURL: redirect,
		Scopes:      scopes,
	}
}

// api calls the Personal Tokens API with an access token.
func (h *oauthHarness) api(token string, u *latchkey.User) int {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/1.0/users/%d/tokens", h.srv.URL, u.ID), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// oauthError is an RFC 6749 error answer.
func oauthError(t *testing.T, err error) string {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("want an OAuth error answer, got %v", err)
	}
	return re.ErrorCode
}

// post sends a form to an OAuth endpoint as client c (basic auth).
func (h *oauthHarness) post(path string, c *latchkey.Client, secret string, form url.Values) (int, map[string]any) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c != nil {
		req.SetBasicAuth(url.QueryEscape(strconv.FormatInt(c.ID, 10)), url.QueryEscape(secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	b, _ := io.ReadAll(resp.Body)
	if len(b) > 0 {
		if err := json.Unmarshal(b, &body); err != nil {
			h.t.Fatalf("%s: %d %s: not JSON", path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode, body
}

// claims reads a JWT's claims without checking it.
func claims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %.40s", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOAuthFlow(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testOAuthFlow(t, newOAuthHarness(t)) })
	t.Run("postgres", func(t *testing.T) {
		testOAuthFlow(t, newOAuthHarness(t, func(h *oauthHarness) { h.postgres = true }))
	})
}

func testOAuthFlow(t *testing.T, h *oauthHarness) {
	ctx := t.Context()
	conf := h.config(h.app, h.appSecret, h.redirect, latchkey.ScopeTokensRead)
	b := oauthtest.NewBrowser(t, h.srv.URL)

	// Not signed in: the sign-in page, then consent naming the
	// application and the scope, then back to the application.
	verifier := oauth2.GenerateVerifier()
	p := b.Get(conf.AuthCodeURL("state-one-12345", oauth2.S256ChallengeOption(verifier)))
	p = b.SignIn("alice", h.alicePassword, p)
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "Report Builder") || !strings.Contains(p.Body, "tokens.read") {
		t.Fatalf("consent page: %d %.500s", p.Status, p.Body)
	}
	if csp := p.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, h.srv.URL) {
		t.Errorf("consent page CSP %q: want scripts from self only, and the form allowed to go to the application", csp)
	}
	q := oauthtest.Callback(t, b.Consent(p, "approve"), h.redirect)
	if q.Get("state") != "state-one-12345" {
		t.Errorf("state = %q", q.Get("state"))
	}
	if q.Get("iss") != h.issuer() {
		t.Errorf("iss = %q, want the issuer %q (RFC 9207)", q.Get("iss"), h.issuer())
	}

	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.TokenType != "Bearer" || tok.RefreshToken == "" || tok.ExpiresIn != 3600 {
		t.Errorf("token answer: type %q, refresh %t, expires_in %d; want Bearer, a refresh token, 3600", tok.TokenType, tok.RefreshToken != "", tok.ExpiresIn)
	}
	c := claims(t, tok.AccessToken)
	if c["aud"] != strconv.FormatInt(h.app.ID, 10) || c["sub"] != strconv.FormatInt(h.alice.ID, 10) {
		t.Errorf("claims aud %v sub %v; want the application %d and alice %d", c["aud"], c["sub"], h.app.ID, h.alice.ID)
	}
	if got := fmt.Sprint(c["scopes"]); got != "[tokens.read]" {
		t.Errorf("scopes claim %s, want [tokens.read]", got)
	}

	// The token calls the API for alice, limited by its scope.
	if got := h.api(tok.AccessToken, h.alice); got != http.StatusOK {
		t.Fatalf("API with the access token: %d, want 200", got)
	}
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/api/1.0/users/%d/tokens", h.srv.URL, h.alice.ID), strings.NewReader(`{"name":"x"}`))
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("create with a tokens.read OAuth token: %d, want 403", resp.StatusCode)
	}
	// The row is the application's, and getTokens lists personal tokens
	// only.
	row, err := h.store.Token(ctx, c["jti"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if row.ClientID != h.app.ID || row.UserID != h.alice.ID {
		t.Errorf("token row: client %d user %d", row.ClientID, row.UserID)
	}
	// Its audit record says where the application's request came from.
	recs, err := h.store.AuditRecords(ctx, latchkey.AuditFilter{Action: latchkey.AuditTokenCreated, UserID: &h.alice.ID})
	if err != nil {
		t.Fatal(err)
	}
	var issued *latchkey.AuditRecord
	for _, r := range recs {
		if r.SubjectID == row.ID {
			issued = r
		}
	}
	if issued == nil || issued.Address == "" || !strings.Contains(issued.UserAgent, "Go-http-client") {
		t.Errorf("the OAuth token's audit record = %+v, want the token endpoint's address and user agent", issued)
	}
	list, _, err := h.svc.Tokens(ctx, h.alice, service.ListQuery{Page: 1, PerPage: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Errorf("getTokens lists %d tokens; the OAuth token must not be among them", len(list))
	}

	// Refresh: a new pair; the old access token stops working.
	tok2, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Hour)}).Token()
	if err != nil {
		t.Fatal(err)
	}
	if tok2.AccessToken == tok.AccessToken || tok2.RefreshToken == tok.RefreshToken || tok2.RefreshToken == "" {
		t.Fatal("refresh gave back the same tokens")
	}
	if got := h.api(tok2.AccessToken, h.alice); got != http.StatusOK {
		t.Fatalf("API with the refreshed token: %d, want 200", got)
	}
	if got := h.api(tok.AccessToken, h.alice); got != http.StatusUnauthorized {
		t.Errorf("API with the access token a refresh replaced: %d, want 401", got)
	}

	// Introspection, by a resource server holding client credentials.
	status, in := h.post("/oauth/introspect", h.other, h.otherSecret, url.Values{"token": {tok2.AccessToken}})
	if status != http.StatusOK || in["active"] != true || in["client_id"] != strconv.FormatInt(h.app.ID, 10) || in["sub"] != strconv.FormatInt(h.alice.ID, 10) {
		t.Errorf("introspect: %d %v", status, in)
	}

	// Revoke (RFC 7009): 200, and the API refuses the token at once.
	status, _ = h.post("/oauth/revoke", h.app, h.appSecret, url.Values{"token": {tok2.AccessToken}})
	if status != http.StatusOK {
		t.Fatalf("revoke: %d", status)
	}
	if got := h.api(tok2.AccessToken, h.alice); got != http.StatusUnauthorized {
		t.Errorf("API after revoke: %d, want 401", got)
	}
	status, in = h.post("/oauth/introspect", h.other, h.otherSecret, url.Values{"token": {tok2.AccessToken}})
	if status != http.StatusOK || in["active"] != false {
		t.Errorf("introspect a revoked token: %d %v, want active false", status, in)
	}
	// Revoking the access token ended the authorization: its refresh
	// token is refused too.
	if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok2.RefreshToken, Expiry: time.Now().Add(-time.Hour)}).Token(); oauthError(t, err) != "invalid_grant" {
		t.Errorf("refresh after revoke: %v, want invalid_grant", err)
	}

	// The consent is remembered: a second run goes straight back with a
	// code, no page in between.
	b.Get(h.srv.URL) // keep the session
	p = b.Get(conf.AuthCodeURL("state-two-12345", oauth2.S256ChallengeOption(verifier)))
	if q := oauthtest.Callback(t, p, h.redirect); q.Get("code") == "" {
		t.Errorf("second authorization: no code")
	}
	// Asking for more than was approved asks again.
	wider := h.config(h.app, h.appSecret, h.redirect, latchkey.ScopeTokensRead, latchkey.ScopeTokensWrite)
	p = b.Get(wider.AuthCodeURL("state-three-12345"))
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "tokens.write") {
		t.Errorf("authorization for a wider scope: %d, want the consent page again", p.Status)
	}
}

func TestOAuthPublicClientPKCE(t *testing.T) {
	h := newOAuthHarness(t)
	conf := h.config(h.native, "", h.nativeRedirect, latchkey.ScopeAll)
	b := oauthtest.NewBrowser(t, h.srv.URL)
	verifier := oauth2.GenerateVerifier()
	code := b.Authorize(conf, "alice", h.alicePassword, oauth2.S256ChallengeOption(verifier))
	tok, err := conf.Exchange(t.Context(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if got := h.api(tok.AccessToken, h.alice); got != http.StatusOK {
		t.Errorf("API with a public client's token: %d", got)
	}
}

// redirectError checks that an authorization request was refused by a
// redirect to the application carrying the RFC error name want, and the
// issuer (RFC 9207).
func (h *oauthHarness) redirectError(t *testing.T, p oauthtest.Page, redirect, want string) {
	t.Helper()
	q := oauthtest.Callback(t, p, redirect)
	if got := q.Get("error"); got != want {
		t.Errorf("error = %q, want %q (%s)", got, want, p.Location)
	}
	if got := q.Get("iss"); got != h.issuer() {
		t.Errorf("iss = %q, want the issuer %q (%s)", got, h.issuer(), p.Location)
	}
}

func TestOAuthAuthorizeRefusals(t *testing.T) {
	h := newOAuthHarness(t)
	b := oauthtest.NewBrowser(t, h.srv.URL)
	// Sign in first, so that every refusal below is the request's.
	b.SignIn("alice", h.alicePassword, b.Get(h.srv.URL+"/login"))
	conf := h.config(h.app, h.appSecret, h.redirect, latchkey.ScopeTokensRead)
	native := h.config(h.native, "", h.nativeRedirect, latchkey.ScopeTokensRead)
	verifier := oauth2.GenerateVerifier()

	for _, tc := range []struct {
		name    string
		authURL string
		// An error shown here (never redirected), or one sent back.
		shownHere, sentBack string
		redirect            string
	}{
		{"unregistered redirect URI", h.config(h.app, "", "https://evil.example/cb", "tokens.read").AuthCodeURL("state-12345678"), "invalid_request", "", ""},
		{"another client's redirect URI", h.config(h.app, "", h.otherRedirect, "tokens.read").AuthCodeURL("state-12345678"), "invalid_request", "", ""},
		{"loopback redirect on another port", h.config(h.native, "", "http://127.0.0.1:7778/native", "tokens.read").AuthCodeURL("state-12345678", oauth2.S256ChallengeOption(verifier)), "invalid_request", "", ""},
		{"loopback redirect on another port, with another error", h.config(h.native, "", "http://127.0.0.1/native").AuthCodeURL("state-12345678"), "invalid_request", "", ""},
		{"unknown client", h.config(&latchkey.Client{ID: 99999}, "", h.redirect, "tokens.read").AuthCodeURL("state-12345678"), "invalid_client", "", ""},
		{"public client without PKCE", native.AuthCodeURL("state-12345678"), "", "invalid_request", h.nativeRedirect},
		{"plain PKCE", native.AuthCodeURL("state-12345678", oauth2.SetAuthURLParam("code_challenge", verifier), oauth2.SetAuthURLParam("code_challenge_method", "plain")), "", "invalid_request", h.nativeRedirect},
		{"unknown scope", h.config(h.app, "", h.redirect, "admin").AuthCodeURL("state-12345678"), "", "invalid_scope", h.redirect},
		{"unknown scope among known ones", h.config(h.app, "", h.redirect, "tokens.read", "admin").AuthCodeURL("state-12345678"), "", "invalid_scope", h.redirect},
		{"response_type token", strings.Replace(conf.AuthCodeURL("state-12345678"), "response_type=code", "response_type=token", 1), "", "unsupported_response_type", h.redirect},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.Get(tc.authURL)
			if tc.shownHere != "" {
				if p.Location != nil {
					t.Fatalf("redirected to %s; an error about the redirect URI or client must never go there", p.Location)
				}
				if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, tc.shownHere) {
					t.Errorf("got %d %s; want 400 naming %s", p.Status, p.Body[strings.Index(p.Body, "<main"):], tc.shownHere)
				}
				return
			}
			h.redirectError(t, p, tc.redirect, tc.sentBack)
		})
	}

	t.Run("denied", func(t *testing.T) {
		p := b.Get(conf.AuthCodeURL("state-12345678", oauth2.SetAuthURLParam("prompt", "consent")))
		h.redirectError(t, b.Consent(p, "deny"), h.redirect, "access_denied")
	})
}

func TestOAuthTokenRefusals(t *testing.T) {
	for _, pg := range []bool{false, true} {
		name := map[bool]string{false: "sqlite", true: "postgres"}[pg]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testOAuthTokenRefusals(t, newOAuthHarness(t, func(h *oauthHarness) { h.postgres = pg }))
		})
	}
}

func testOAuthTokenRefusals(t *testing.T, h *oauthHarness) {
	ctx := t.Context()
	conf := h.config(h.app, h.appSecret, h.redirect, latchkey.ScopeTokensRead)
	b := oauthtest.NewBrowser(t, h.srv.URL)
	verifier := oauth2.GenerateVerifier()
	code := func() string {
		return b.Authorize(conf, "alice", h.alicePassword, oauth2.S256ChallengeOption(verifier))
	}

	t.Run("wrong PKCE verifier", func(t *testing.T) {
		_, err := conf.Exchange(ctx, code(), oauth2.VerifierOption(oauth2.GenerateVerifier()))
		if got := oauthError(t, err); got != "invalid_grant" {
			t.Errorf("got %s, want invalid_grant", got)
		}
	})
	t.Run("missing PKCE verifier", func(t *testing.T) {
		_, err := conf.Exchange(ctx, code())
		if got := oauthError(t, err); got != "invalid_grant" {
			t.Errorf("got %s, want invalid_grant", got)
		}
	})
	t.Run("another redirect URI than the code's", func(t *testing.T) {
		c := code()
		f := tokenForm(c, h.otherRedirect, [][]oauth2.AuthCodeOption{{oauth2.VerifierOption(verifier)}}[0])
		if status, body := h.post("/oauth/token", h.app, h.appSecret, f); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("got %d %v, want 400 invalid_grant", status, body)
		}
	})
	t.Run("a refresh asking for more than was granted", func(t *testing.T) {
		tok, err := conf.Exchange(ctx, code(), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		for _, scope := range []string{"tokens.read tokens.write", "*", "tokens.write"} {
			status, body := h.post("/oauth/token", h.app, h.appSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "scope": {scope}})
			if status != http.StatusBadRequest || body["error"] != "invalid_scope" {
				t.Errorf("refresh with scope %q: %d %v, want 400 invalid_scope", scope, status, body)
			}
		}
		// None of those used the refresh token; what was granted may be
		// named.
		status, body := h.post("/oauth/token", h.app, h.appSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "scope": {"tokens.read"}})
		if status != http.StatusOK || body["scope"] != "tokens.read" {
			t.Errorf("refresh with the scope granted: %d %v, want 200", status, body)
		}
	})
	t.Run("unsupported grant types", func(t *testing.T) {
		for _, gt := range []string{"client_credentials", "password", "urn:ietf:params:oauth:grant-type:jwt-bearer", "implicit"} {
			status, body := h.post("/oauth/token", h.app, h.appSecret, url.Values{"grant_type": {gt}, "username": {"alice"}, "password": {h.alicePassword}})
			if status != http.StatusBadRequest || body["error"] != "unsupported_grant_type" {
				t.Errorf("grant_type %s: %d %v, want 400 unsupported_grant_type", gt, status, body)
			}
		}
	})
	t.Run("no verifier after a wrong one", func(t *testing.T) {
		// The challenge outlives a failed attempt: a retry without a
		// verifier is no request "without PKCE".
		c := code()
		for _, opts := range [][]oauth2.AuthCodeOption{{oauth2.VerifierOption(oauth2.GenerateVerifier())}, nil} {
			status, body := h.post("/oauth/token", h.app, h.appSecret, tokenForm(c, h.redirect, opts))
			if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
				t.Errorf("exchange: %d %v, want 400 invalid_grant", status, body)
			}
		}
	})
	t.Run("wrong client secret", func(t *testing.T) {
		bad := *conf
		bad.ClientSecret = "not the secret"
		_, err := bad.Exchange(ctx, code(), oauth2.VerifierOption(verifier))
		if got := oauthError(t, err); got != "invalid_client" {
			t.Errorf("got %s, want invalid_client", got)
		}
	})
	t.Run("client_secret_post", func(t *testing.T) {
		post := *conf
		post.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		if _, err := post.Exchange(ctx, code(), oauth2.VerifierOption(verifier)); err != nil {
			t.Errorf("client_secret_post: %v", err)
		}
	})
	t.Run("code of another client", func(t *testing.T) {
		other := h.config(h.other, h.otherSecret, h.redirect, latchkey.ScopeTokensRead)
		_, err := other.Exchange(ctx, code(), oauth2.VerifierOption(verifier))
		if got := oauthError(t, err); got != "invalid_grant" {
			t.Errorf("got %s, want invalid_grant", got)
		}
	})
	t.Run("reused code revokes what it issued", func(t *testing.T) {
		c := code()
		tok, err := conf.Exchange(ctx, c, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		if got := h.api(tok.AccessToken, h.alice); got != http.StatusOK {
			t.Fatalf("API: %d", got)
		}
		_, err = conf.Exchange(ctx, c, oauth2.VerifierOption(verifier))
		if got := oauthError(t, err); got != "invalid_grant" {
			t.Errorf("second exchange: %s, want invalid_grant", got)
		}
		if got := h.api(tok.AccessToken, h.alice); got != http.StatusUnauthorized {
			t.Errorf("API with the first exchange's token after the code's reuse: %d, want 401", got)
		}
		_, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Hour)}).Token()
		if got := oauthError(t, err); got != "invalid_grant" {
			t.Errorf("refresh token of the first exchange after the code's reuse: %s, want invalid_grant", got)
		}
	})
	t.Run("one code exchanged at once by many", func(t *testing.T) {
		// Each racer is a client that may hold the code: a second use is a
		// reuse.
		c := code()
		const n = 8
		statuses := make(chan int, n)
		for range n {
			go func() {
				status, _ := h.post("/oauth/token", h.app, h.appSecret, tokenForm(c, h.redirect, []oauth2.AuthCodeOption{oauth2.VerifierOption(verifier)}))
				statuses <- status
			}()
		}
		won := 0
		for range n {
			switch status := <-statuses; status {
			case http.StatusOK:
				won++
			case http.StatusBadRequest:
			default:
				t.Errorf("a racing exchange answered %d, want 200 or 400", status)
			}
		}
		// At most one: and none at all is right too, when a racer that
		// arrived after the winner marked the code used counts as a
		// reuse and revokes what the winner was given.
		if won > 1 {
			t.Errorf("%d of %d racing exchanges of one code got tokens, want at most 1", won, n)
		}
	})
	t.Run("expired code", func(t *testing.T) {
		c := code()
		h.clock.Advance(oauth.DefaultCodeLifetime)
		_, err := conf.Exchange(ctx, c, oauth2.VerifierOption(verifier))
		if got := oauthError(t, err); got != "invalid_grant" {
			t.Errorf("got %s, want invalid_grant", got)
		}
	})
	t.Run("reused refresh token revokes the family", func(t *testing.T) {
		tok, err := conf.Exchange(ctx, code(), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		refresh := func(rt string) (*oauth2.Token, error) {
			return conf.TokenSource(ctx, &oauth2.Token{RefreshToken: rt, Expiry: time.Now().Add(-time.Hour)}).Token()
		}
		tok2, err := refresh(tok.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		// The first refresh token again: reuse.
		_, err = refresh(tok.RefreshToken)
		if got := oauthError(t, err); got != "invalid_grant" {
			t.Errorf("reused refresh token: %s, want invalid_grant", got)
		}
		if got := h.api(tok2.AccessToken, h.alice); got != http.StatusUnauthorized {
			t.Errorf("API with the family's newest access token after reuse: %d, want 401", got)
		}
		if _, err = refresh(tok2.RefreshToken); oauthError(t, err) != "invalid_grant" {
			t.Errorf("the family's newest refresh token after reuse: %v, want invalid_grant", err)
		}
	})
	t.Run("disabled user", func(t *testing.T) {
		tok, err := conf.Exchange(ctx, code(), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		inactive := latchkey.StatusInactive
		if _, err := h.svc.UpdateUser(ctx, h.alice.ID, service.UserChange{UserUpdate: latchkey.UserUpdate{Status: &inactive}}); err != nil {
			t.Fatal(err)
		}
		defer func() {
			active := latchkey.StatusActive
			if _, err := h.svc.UpdateUser(context.WithoutCancel(ctx), h.alice.ID, service.UserChange{UserUpdate: latchkey.UserUpdate{Status: &active}}); err != nil {
				t.Fatal(err)
			}
		}()
		if got := h.api(tok.AccessToken, h.alice); got != http.StatusUnauthorized {
			t.Errorf("API as a disabled user: %d, want 401", got)
		}
		_, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Hour)}).Token()
		if got := oauthError(t, err); got != "invalid_grant" {
			t.Errorf("refresh as a disabled user: %s, want invalid_grant", got)
		}
	})
	t.Run("revoked client", func(t *testing.T) {
		c := code()
		tok, err := conf.Exchange(ctx, code(), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		if err := h.svc.RevokeClient(ctx, h.app.ID); err != nil {
			t.Fatal(err)
		}
		_, err = conf.Exchange(ctx, c, oauth2.VerifierOption(verifier))
		if got := oauthError(t, err); got != "invalid_client" {
			t.Errorf("exchange by a revoked client: %s, want invalid_client", got)
		}
		if got := h.api(tok.AccessToken, h.alice); got != http.StatusUnauthorized {
			t.Errorf("API with a revoked client's token: %d, want 401", got)
		}
		_, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Hour)}).Token()
		if got := oauthError(t, err); got != "invalid_client" {
			t.Errorf("refresh by a revoked client: %s, want invalid_client", got)
		}
	})
}

// tokenForm is an authorization_code exchange's form.
func tokenForm(code, redirect string, opts []oauth2.AuthCodeOption) url.Values {
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}
	if len(opts) > 0 {
		// The one option used here is the verifier.
		u, _ := url.Parse((&oauth2.Config{Endpoint: oauth2.Endpoint{AuthURL: "http://x/"}}).AuthCodeURL("", opts...))
		f.Set("code_verifier", u.Query().Get("code_verifier"))
	}
	return f
}

func TestOAuthTokenEndpointLimit(t *testing.T) {
	h := newOAuthHarness(t, func(h *oauthHarness) {
		h.limits = httpapi.Limits{TokenEndpointPerAddr: httpapi.Rate{PerSecond: 0.001, Burst: 3}}
	})
	for i := range 3 {
		if status, body := h.post("/oauth/token", h.app, "wrong", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}); status != http.StatusUnauthorized {
			t.Fatalf("request %d: %d %v, want 401", i+1, status, body)
		}
	}
	status, body := h.post("/oauth/token", h.app, h.appSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}})
	if status != http.StatusTooManyRequests || body["error"] != "slow_down" {
		t.Errorf("past the limit: %d %v, want 429 slow_down", status, body)
	}
}

// TestOAuthEndpointPermissions is the OAuth endpoints against each kind of
// caller: a token of the application may be refreshed and revoked only by
// that application; any confidential client may introspect.
func TestOAuthEndpointPermissions(t *testing.T) {
	h := newOAuthHarness(t)
	ctx := t.Context()
	gone, goneSecret := h.register("Gone App", false, "https://gone.example/callback")
	if err := h.svc.RevokeClient(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	conf := h.config(h.app, h.appSecret, h.redirect, latchkey.ScopeTokensRead)
	b := oauthtest.NewBrowser(t, h.srv.URL)
	verifier := oauth2.GenerateVerifier()
	// A fresh token pair for every call, so that no call sees another's
	// effect.
	pair := func() *oauth2.Token {
		tok, err := conf.Exchange(ctx, b.Authorize(conf, "alice", h.alicePassword, oauth2.S256ChallengeOption(verifier)), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	type caller struct {
		name   string
		client *latchkey.Client
		secret string
	}
	callers := []caller{
		{"no client", nil, ""},
		{"wrong secret", h.app, "wrong"},
		{"the application", h.app, h.appSecret},
		{"another application", h.other, h.otherSecret},
		{"a revoked application", gone, goneSecret},
		{"a public client", h.native, ""},
	}
	for _, tc := range []struct {
		endpoint string
		form     func(tok *oauth2.Token) url.Values
		// want is the status, and whether the token still works after.
		want map[string]int
	}{
		{"revoke", func(tok *oauth2.Token) url.Values { return url.Values{"token": {tok.AccessToken}} },
			map[string]int{"no client": 401, "wrong secret": 401, "the application": 200, "another application": 400, "a revoked application": 401, "a public client": 400}},
		{"introspect", func(tok *oauth2.Token) url.Values { return url.Values{"token": {tok.AccessToken}} },
			map[string]int{"no client": 401, "wrong secret": 401, "the application": 200, "another application": 200, "a revoked application": 401, "a public client": 401}},
		{"token", func(tok *oauth2.Token) url.Values {
			return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
		}, map[string]int{"no client": 401, "wrong secret": 401, "the application": 200, "another application": 400, "a revoked application": 401, "a public client": 400}},
	} {
		for _, c := range callers {
			t.Run(tc.endpoint+"/"+c.name, func(t *testing.T) {
				tok := pair()
				status, body := h.post("/oauth/"+tc.endpoint, c.client, c.secret, tc.form(tok))
				if status != tc.want[c.name] {
					t.Errorf("%s as %s: %d %v, want %d", tc.endpoint, c.name, status, body, tc.want[c.name])
				}
				// Only the application itself may end its token.
				stillWorks := h.api(tok.AccessToken, h.alice) == http.StatusOK
				ended := c.name == "the application" && tc.endpoint != "introspect"
				if stillWorks == ended {
					t.Errorf("%s as %s: the access token works afterwards: %t, want %t", tc.endpoint, c.name, stillWorks, !ended)
				}
			})
		}
	}
}
