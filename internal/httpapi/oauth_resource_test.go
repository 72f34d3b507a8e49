package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/httpapi"
	"github.com/latchkey/latchkey/internal/oauthtest"
	"github.com/latchkey/latchkey/internal/service"
)

// The resource servers of these tests, as registered and as a client may
// spell them.
const (
	mcpURI      = "https://mcp.example.com/mcp"
	mcpSpelled  = "HTTPS://MCP.example.com:443/mcp/"
	otherURI    = "https://other.example.com/tools"
	mcpTools    = "mcp:tools"
	mcpResource = "mcp:resources"
)

// resourceHarness is the OAuth harness with two resources registered.
type resourceHarness struct {
	*oauthHarness
	mcp, second *latchkey.Resource
}

func newResourceHarness(t *testing.T, configure ...func(*oauthHarness)) *resourceHarness {
	h := &resourceHarness{oauthHarness: newOAuthHarness(t, configure...)}
	var err error
	if h.mcp, err = h.svc.CreateResource(t.Context(), service.NewResource{URI: mcpURI, Name: "Tools server", Scopes: []string{mcpTools, mcpResource}}); err != nil {
		t.Fatal(err)
	}
	if h.second, err = h.svc.CreateResource(t.Context(), service.NewResource{URI: otherURI, Name: "Other server", Scopes: []string{mcpTools}}); err != nil {
		t.Fatal(err)
	}
	return h
}

// apiURI is the resource identifier of Latchkey's API.
func (h *oauthHarness) apiURI() string { return h.issuer() + "/api/1.0" }

// resource is the authorization or token request option naming uri.
func resource(uri string) oauth2.AuthCodeOption { return oauth2.SetAuthURLParam("resource", uri) }

// jwtParts decodes a JWT's header and claims without checking them.
func jwtParts(t *testing.T, token string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %.40s", token)
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	return header, claims
}

// apiAnswer calls the API with token and returns the whole answer.
func (h *oauthHarness) apiAnswer(token string, u *latchkey.User) (int, http.Header, string) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/api/1.0/users/"+strconv.FormatInt(u.ID, 10)+"/tokens", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestOAuthResourceFlow is the whole flow for a registered resource,
// through golang.org/x/oauth2: the resource named in the spelling a
// client may use, the consent page naming it, a token in RFC 9068's
// shape for it (verified with the published keys), refused by
// Latchkey's API and reported by introspection; refreshes keep the
// resource; a token for the API's own resource is the API's.
func TestOAuthResourceFlow(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testOAuthResourceFlow(t, newResourceHarness(t)) })
	t.Run("postgres", func(t *testing.T) {
		testOAuthResourceFlow(t, newResourceHarness(t, func(h *oauthHarness) { h.postgres = true }))
	})
	t.Run("public URL", func(t *testing.T) {
		testOAuthResourceFlow(t, newResourceHarness(t, func(h *oauthHarness) { h.publicURL = "https://Tokens.example.com" }))
	})
}

func testOAuthResourceFlow(t *testing.T, h *resourceHarness) {
	ctx := t.Context()
	conf := h.config(h.native, "", h.nativeRedirect, mcpTools)
	b := oauthtest.NewBrowser(t, h.srv.URL)
	verifier := oauth2.GenerateVerifier()
	p := b.SignIn("alice", h.alicePassword, b.Get(conf.AuthCodeURL("state-res-12345", oauth2.S256ChallengeOption(verifier), resource(mcpSpelled))))
	if !p.IsConsent() || !strings.Contains(p.Body, "Tools server") || !strings.Contains(p.Body, "<code>"+mcpURI+"</code>") || !strings.Contains(p.Body, "<code>"+mcpTools+"</code>") {
		t.Fatalf("consent page: want the resource's name, URI and the scope: %d %.900s", p.Status, p.Body)
	}
	q := oauthtest.Callback(t, b.Consent(p, "approve"), h.nativeRedirect)
	if q.Get("iss") != h.issuer() {
		t.Errorf("iss = %q, want %q", q.Get("iss"), h.issuer())
	}
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier), resource(mcpSpelled))
	if err != nil {
		t.Fatal(err)
	}
	if tok.Extra("scope") != mcpTools {
		t.Errorf("the answer's scope = %v, want %s", tok.Extra("scope"), mcpTools)
	}

	// RFC 9068's shape, with the resource as its audience.
	header, c := jwtParts(t, tok.AccessToken)
	if header["typ"] != "at+jwt" || header["kid"] == nil || header["alg"] != "RS256" {
		t.Errorf("header %v: want typ at+jwt, alg RS256, a kid", header)
	}
	want := map[string]any{"iss": h.issuer(), "aud": mcpURI, "sub": strconv.FormatInt(h.alice.ID, 10),
		"client_id": strconv.FormatInt(h.native.ID, 10), "scope": mcpTools}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("claim %s = %v, want %v", k, c[k], v)
		}
	}
	if exp, iat := c["exp"].(float64), c["iat"].(float64); exp-iat != 3600 || c["nbf"] != c["iat"] || c["jti"] == nil {
		t.Errorf("claims %v: want jti, and exp an hour after iat = nbf", c)
	}
	if got, ok := c["scopes"].([]any); !ok || len(got) != 1 || got[0] != mcpTools {
		t.Errorf("claim scopes = %v, want [%s]", c["scopes"], mcpTools)
	}
	verifyWithJWKS(t, h.srv.URL, tok.AccessToken)

	// Latchkey's API refuses it, as it refuses any token it does not
	// accept; introspection reports it, for the resource.
	status, hdr, body := h.apiAnswer(tok.AccessToken, h.alice)
	wantChallenge := `Bearer error="invalid_token", resource_metadata="` + h.issuer() + `/.well-known/oauth-protected-resource/api/1.0"`
	if status != http.StatusUnauthorized || hdr.Get("WWW-Authenticate") != wantChallenge || strings.TrimSpace(body) != `{"error":"Unauthenticated."}` {
		t.Errorf("API with the token for %s: %d %q %s; want 401 %s", mcpURI, status, hdr.Get("WWW-Authenticate"), body, wantChallenge)
	}
	status, in := h.post("/oauth/introspect", h.other, h.otherSecret, url.Values{"token": {tok.AccessToken}})
	wantIn := map[string]any{"active": true, "aud": mcpURI, "scope": mcpTools, "client_id": strconv.FormatInt(h.native.ID, 10),
		"sub": strconv.FormatInt(h.alice.ID, 10), "iss": h.issuer(), "token_type": "Bearer", "exp": c["exp"]}
	for k, v := range wantIn {
		if in[k] != v {
			t.Errorf("introspection %s = %v, want %v (%v)", k, in[k], v, in)
		}
	}
	if status != http.StatusOK || in["iat"] == nil {
		t.Errorf("introspection: %d %v", status, in)
	}

	// A refresh without a resource keeps it; with it, too, in any
	// spelling.
	tok2, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Hour)}).Token()
	if err != nil {
		t.Fatal(err)
	}
	if _, c2 := jwtParts(t, tok2.AccessToken); c2["aud"] != mcpURI || c2["scope"] != mcpTools {
		t.Errorf("refreshed token: aud %v scope %v, want %s, %s", c2["aud"], c2["scope"], mcpURI, mcpTools)
	}
	status, ans := h.post("/oauth/token", nil, "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok2.RefreshToken},
		"client_id": {strconv.FormatInt(h.native.ID, 10)}, "resource": {"https://mcp.example.com:443/mcp"}})
	if status != http.StatusOK {
		t.Fatalf("refresh naming the resource: %d %v", status, ans)
	}
	if _, c3 := jwtParts(t, ans["access_token"].(string)); c3["aud"] != mcpURI {
		t.Errorf("refreshed token naming the resource: aud %v", c3["aud"])
	}

	// A token for Latchkey's own API, named as its RFC 9728 document
	// names it: the API's token, in Passport's shape.
	resp, err := http.Get(h.srv.URL + "/.well-known/oauth-protected-resource/api/1.0")
	if err != nil {
		t.Fatal(err)
	}
	var prm struct{ Resource string }
	err = json.NewDecoder(resp.Body).Decode(&prm)
	resp.Body.Close()
	if err != nil || prm.Resource != h.apiURI() {
		t.Fatalf("the API's RFC 9728 resource = %q (%v), want %q", prm.Resource, err, h.apiURI())
	}
	apiConf := h.config(h.native, "", h.nativeRedirect, latchkey.ScopeTokensRead)
	verifier = oauth2.GenerateVerifier()
	code := b.Authorize(apiConf, "alice", h.alicePassword, oauth2.S256ChallengeOption(verifier), resource(prm.Resource))
	apiTok, err := apiConf.Exchange(ctx, code, oauth2.VerifierOption(verifier), resource(strings.ToUpper(prm.Resource[:8])+prm.Resource[8:]+"/"))
	if err != nil {
		t.Fatal(err)
	}
	if header, c := jwtParts(t, apiTok.AccessToken); header["typ"] != "JWT" || c["aud"] != strconv.FormatInt(h.native.ID, 10) || c["iss"] != nil {
		t.Errorf("a token for the API: header %v claims %v; want Passport's (typ JWT, aud the client id)", header, c)
	}
	if got := h.api(apiTok.AccessToken, h.alice); got != http.StatusOK {
		t.Errorf("API with a token for its own resource: %d, want 200", got)
	}
	if status, in := h.post("/oauth/introspect", h.other, h.otherSecret, url.Values{"token": {apiTok.AccessToken}}); status != http.StatusOK || in["active"] != true || in["aud"] != nil {
		t.Errorf("introspection of the API's token: %d %v; want active, without aud", status, in)
	}
}

// verifyWithJWKS checks token's signature with the keys the server
// publishes, as a resource server does, with go-jose.
func verifyWithJWKS(t *testing.T, base, token string) {
	t.Helper()
	resp, err := http.Get(base + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSigned(token)
	if err != nil {
		t.Fatal(err)
	}
	keys := set.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		t.Fatalf("the JWKS has %d keys of kid %s, want 1", len(keys), jws.Signatures[0].Header.KeyID)
	}
	if _, err := jws.Verify(keys[0].Key); err != nil {
		t.Errorf("the token does not verify with the published key: %v", err)
	}
}

// TestOAuthResourceAuthorizeRefusals: each bad resource, and each scope a
// resource does not understand, is sent back to the application with its
// RFC error and the issuer.
func TestOAuthResourceAuthorizeRefusals(t *testing.T) {
	h := newResourceHarness(t)
	b := oauthtest.NewBrowser(t, h.srv.URL)
	b.SignIn("alice", h.alicePassword, b.Get(h.srv.URL+"/login"))
	conf := h.config(h.app, h.appSecret, h.redirect, mcpTools)
	for _, tc := range []struct {
		name string
		opts []oauth2.AuthCodeOption
		want string
	}{
		{"unknown resource", []oauth2.AuthCodeOption{resource("https://unknown.example.com/mcp")}, "invalid_target"},
		{"relative URI", []oauth2.AuthCodeOption{resource("/mcp")}, "invalid_target"},
		{"not a URI", []oauth2.AuthCodeOption{resource("mcp server")}, "invalid_target"},
		{"fragment", []oauth2.AuthCodeOption{resource(mcpURI + "#x")}, "invalid_target"},
		{"query", []oauth2.AuthCodeOption{resource(mcpURI + "?x=1")}, "invalid_target"},
		{"empty", []oauth2.AuthCodeOption{resource("")}, "invalid_target"},
		{"http for an https resource", []oauth2.AuthCodeOption{resource("http://mcp.example.com/mcp")}, "invalid_target"},
		{"two resources", []oauth2.AuthCodeOption{resource(mcpURI), oauth2.SetAuthURLParam("also", otherURI)}, "invalid_target"},
		{"a scope the resource does not understand", []oauth2.AuthCodeOption{resource(mcpURI), oauth2.SetAuthURLParam("scope", "mcp:tools tokens.read")}, "invalid_scope"},
		{"a scope of another resource", []oauth2.AuthCodeOption{resource(otherURI), oauth2.SetAuthURLParam("scope", mcpResource)}, "invalid_scope"},
		{"a resource's scope for the API", []oauth2.AuthCodeOption{resource(h.apiURI())}, "invalid_scope"},
		{"a resource's scope for no resource", nil, "invalid_scope"},
		{"audience", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("audience", mcpURI), oauth2.SetAuthURLParam("scope", latchkey.ScopeTokensRead)}, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// "also" is a second resource parameter.
			u := strings.Replace(conf.AuthCodeURL("state-12345678", tc.opts...), "also=", "resource=", 1)
			h.redirectError(t, b.Get(u), h.redirect, tc.want)
		})
	}

	t.Run("the same resource twice", func(t *testing.T) {
		u := conf.AuthCodeURL("state-12345678", resource(mcpURI)) + "&resource=" + url.QueryEscape(mcpSpelled)
		if p := b.Get(u); !p.IsConsent() {
			t.Errorf("a resource named twice, in two spellings: %d %v, want the consent page", p.Status, p.Location)
		}
	})

	t.Run("shown here, not sent back", func(t *testing.T) {
		// An unknown client with a bad resource: the client's error,
		// on this page.
		p := b.Get(h.config(&latchkey.Client{ID: 99999}, "", h.redirect, mcpTools).AuthCodeURL("state-12345678", resource("x")))
		if p.Location != nil || p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "invalid_client") {
			t.Errorf("unknown client: %d %v", p.Status, p.Location)
		}
	})
}

// TestOAuthResourceDefaultScopes: a request for a resource that names no
// scope gets the defaults that resource understands (here the server's
// --oauth-default-scopes, which may name its --extra-scopes).
func TestOAuthResourceDefaultScopes(t *testing.T) {
	h := newResourceHarness(t, func(h *oauthHarness) {
		h.extraScopes = []string{mcpTools}
		h.defaultScopes = []string{latchkey.ScopeTokensRead, mcpTools}
	})
	b := oauthtest.NewBrowser(t, h.srv.URL)
	conf := h.config(h.native, "", h.nativeRedirect)
	verifier := oauth2.GenerateVerifier()
	p := b.SignIn("alice", h.alicePassword, b.Get(conf.AuthCodeURL("state-12345678", oauth2.S256ChallengeOption(verifier), resource(mcpURI))))
	if !p.IsConsent() || !strings.Contains(p.Body, "<code>"+mcpTools+"</code>") || strings.Contains(p.Body, "<code>tokens.read</code>") {
		t.Fatalf("consent page: want %s alone: %.900s", mcpTools, p.Body)
	}
	q := oauthtest.Callback(t, b.Consent(p, "approve"), h.nativeRedirect)
	tok, err := conf.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if _, c := jwtParts(t, tok.AccessToken); c["scope"] != mcpTools || c["aud"] != mcpURI {
		t.Errorf("token: scope %v aud %v; want %s for %s", c["scope"], c["aud"], mcpTools, mcpURI)
	}
}

// TestOAuthResourceOwnDefaultScopes: a request for a resource that names
// no scope, as an MCP client's may, from an application none of whose
// default scopes the resource understands (they are Latchkey's API's),
// gets the resource's own default scopes: for a client that registered
// itself (RFC 7591) and for one the operator registered alike, through
// golang.org/x/oauth2, the consent page naming exactly those.
func TestOAuthResourceOwnDefaultScopes(t *testing.T) {
	for _, pg := range []bool{false, true} {
		t.Run(map[bool]string{false: "sqlite", true: "postgres"}[pg], func(t *testing.T) {
			testOAuthResourceOwnDefaultScopes(t, newResourceHarness(t, func(h *oauthHarness) {
				h.postgres = pg
				h.registration = httpapi.RegistrationPublic
				h.defaultScopes = []string{latchkey.ScopeTokensRead} // serve's default
			}))
		})
	}
}

func testOAuthResourceOwnDefaultScopes(t *testing.T, h *resourceHarness) {
	const adminURI, mcpAdmin = "https://admin.example.com/mcp", "mcp:admin"
	if _, err := h.svc.CreateResource(t.Context(), service.NewResource{URI: adminURI, Name: "Admin server",
		Scopes: []string{mcpTools, mcpResource, mcpAdmin}, DefaultScopes: []string{mcpResource, mcpTools}}); err != nil {
		t.Fatal(err)
	}
	redirect := "http://127.0.0.1:7779/mcp/callback"
	status, got, _ := registerRaw(t, h.srv.URL, `{"redirect_uris": ["`+redirect+`"], "client_name": "MCP Inspector",
		"token_endpoint_auth_method": "none", "scope": "tokens.read tokens.write"}`)
	if status != http.StatusCreated {
		t.Fatalf("POST /oauth/register = %d %v", status, got)
	}
	id, _ := strconv.ParseInt(got["client_id"].(string), 10, 64)
	self := &latchkey.Client{ID: id}

	for _, tc := range []struct {
		name     string
		conf     *oauth2.Config
		uri      string
		want     []string // the scopes granted, in order
		withheld []string // scopes the resource understands, not granted
	}{
		{"self-registered, all the resource's scopes by default", h.config(self, "", redirect), mcpSpelled, []string{mcpTools, mcpResource}, nil},
		{"self-registered, some", h.config(self, "", redirect), adminURI, []string{mcpResource, mcpTools}, []string{mcpAdmin}},
		{"registered by the operator", h.config(h.native, "", h.nativeRedirect), adminURI, []string{mcpResource, mcpTools}, []string{mcpAdmin}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := oauthtest.NewBrowser(t, h.srv.URL)
			verifier := oauth2.GenerateVerifier()
			p := b.SignIn("alice", h.alicePassword, b.Get(tc.conf.AuthCodeURL("state-12345678", oauth2.S256ChallengeOption(verifier), resource(tc.uri))))
			if !p.IsConsent() {
				t.Fatalf("want the consent page: %d %v %.600s", p.Status, p.Location, p.Body)
			}
			for _, sc := range tc.want {
				if !strings.Contains(p.Body, "<code>"+sc+"</code>") {
					t.Errorf("the consent page does not name %s: %.1200s", sc, p.Body)
				}
			}
			for _, sc := range append(tc.withheld, latchkey.ScopeTokensRead, latchkey.ScopeTokensWrite) {
				if strings.Contains(p.Body, "<code>"+sc+"</code>") {
					t.Errorf("the consent page names %s, not granted", sc)
				}
			}
			q := oauthtest.Callback(t, b.Consent(p, "approve"), tc.conf.RedirectURL)
			tok, err := tc.conf.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(verifier), resource(tc.uri))
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Join(tc.want, " ")
			if tok.Extra("scope") != want {
				t.Errorf("the answer's scope = %v, want %s", tok.Extra("scope"), want)
			}
			norm, _ := latchkey.NormalizeResourceURI(tc.uri)
			if _, c := jwtParts(t, tok.AccessToken); c["scope"] != want || c["aud"] != norm {
				t.Errorf("token: scope %v aud %v; want %s for %s", c["scope"], c["aud"], want, norm)
			}
		})
	}
}

// TestOAuthResourceConsentAskedAgain: an application's consent is
// remembered for Latchkey's API, never for another resource.
func TestOAuthResourceConsentAskedAgain(t *testing.T) {
	h := newResourceHarness(t)
	b := oauthtest.NewBrowser(t, h.srv.URL)
	conf := h.config(h.app, h.appSecret, h.redirect, mcpTools)
	b.Authorize(conf, "alice", h.alicePassword, resource(mcpURI))
	if p := b.Get(conf.AuthCodeURL("state-12345678", resource(mcpURI))); !p.IsConsent() {
		t.Errorf("a second authorization for %s: %d %v, want the consent page again", mcpURI, p.Status, p.Location)
	}
}

// tokenAt exchanges code at the token endpoint as the confidential app,
// with form's parameters besides.
func (h *resourceHarness) tokenAt(code string, form url.Values) (int, map[string]any) {
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {h.redirect}}
	for k, v := range form {
		f[k] = v
	}
	return h.post("/oauth/token", h.app, h.appSecret, f)
}

// TestOAuthResourceTokenRefusals: a token request is held to the resource
// its grant is for (RFC 8707 section 2.2): every bad resource is 400
// invalid_target, and leaves the code or refresh token as it was.
func TestOAuthResourceTokenRefusals(t *testing.T) {
	for _, pg := range []bool{false, true} {
		t.Run(map[bool]string{false: "sqlite", true: "postgres"}[pg], func(t *testing.T) {
			testOAuthResourceTokenRefusals(t, newResourceHarness(t, func(h *oauthHarness) { h.postgres = pg }))
		})
	}
}

func testOAuthResourceTokenRefusals(t *testing.T, h *resourceHarness) {
	b := oauthtest.NewBrowser(t, h.srv.URL)
	mcpConf := h.config(h.app, h.appSecret, h.redirect, mcpTools)
	apiConf := h.config(h.app, h.appSecret, h.redirect, latchkey.ScopeTokensRead)
	refused := func(t *testing.T, what string, status int, ans map[string]any) {
		t.Helper()
		if status != http.StatusBadRequest || ans["error"] != "invalid_target" {
			t.Errorf("%s: %d %v, want 400 invalid_target", what, status, ans)
		}
	}

	t.Run("code for a resource", func(t *testing.T) {
		code := b.Authorize(mcpConf, "alice", h.alicePassword, resource(mcpURI))
		for name, res := range map[string][]string{
			"another resource":    {otherURI},
			"the API":             {h.apiURI()},
			"an unknown resource": {"https://unknown.example.com/mcp"},
			"a malformed URI":     {"mcp"},
			"a fragment":          {mcpURI + "#f"},
			"two resources":       {mcpURI, otherURI},
		} {
			status, ans := h.tokenAt(code, url.Values{"resource": res})
			refused(t, name, status, ans)
		}
		// Nor may audience name anything, the resource included.
		if status, ans := h.tokenAt(code, url.Values{"audience": {mcpURI}}); status != http.StatusBadRequest || ans["error"] != "invalid_request" {
			t.Errorf("an audience parameter: %d %v, want 400 invalid_request", status, ans)
		}
		// None of those used the code.
		status, ans := h.tokenAt(code, url.Values{"resource": {mcpSpelled}})
		if status != http.StatusOK {
			t.Fatalf("the code after the refusals: %d %v", status, ans)
		}
	})

	t.Run("code for the API", func(t *testing.T) {
		code := b.Authorize(apiConf, "alice", h.alicePassword)
		status, ans := h.tokenAt(code, url.Values{"resource": {mcpURI}})
		refused(t, "a resource the authorization did not name", status, ans)
		status, ans = h.tokenAt(code, url.Values{"resource": {h.apiURI()}})
		if status != http.StatusOK {
			t.Fatalf("the API's own resource: %d %v", status, ans)
		}
		// A refresh may not widen to a resource either.
		status, ans = h.post("/oauth/token", h.app, h.appSecret, url.Values{"grant_type": {"refresh_token"},
			"refresh_token": {ans["refresh_token"].(string)}, "resource": {mcpURI}})
		refused(t, "a refresh naming a resource", status, ans)
	})

	t.Run("refresh for a resource", func(t *testing.T) {
		code := b.Authorize(mcpConf, "alice", h.alicePassword, resource(mcpURI))
		status, ans := h.tokenAt(code, nil)
		if status != http.StatusOK {
			t.Fatalf("exchange: %d %v", status, ans)
		}
		refresh, first := ans["refresh_token"].(string), ans["access_token"].(string)
		for name, res := range map[string]string{"another resource": otherURI, "the API": h.apiURI(), "a malformed URI": "https://mcp.example.com/a b"} {
			status, ans := h.post("/oauth/token", h.app, h.appSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "resource": {res}})
			refused(t, "a refresh naming "+name, status, ans)
		}
		// The refresh token still works: nothing was rotated.
		status, ans = h.post("/oauth/token", h.app, h.appSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
		if status != http.StatusOK {
			t.Fatalf("refresh after the refusals: %d %v", status, ans)
		}
		refresh = ans["refresh_token"].(string)
		access := ans["access_token"].(string)
		// The refresh ended the access token it replaced.
		if status, in := h.post("/oauth/introspect", h.other, h.otherSecret, url.Values{"token": {first}}); status != http.StatusOK || in["active"] != false {
			t.Errorf("introspection of the access token a refresh replaced: %d %v, want inactive", status, in)
		}

		// The resource deleted: its grants are refused, even once a
		// resource is registered at its URI again, and the access token
		// issued for it is revoked: introspection calls it inactive.
		// Two access tokens for it are live: this refresh's, and the one
		// "code for a resource" was given above.
		if n, err := h.svc.DeleteResource(t.Context(), h.mcp); err != nil || n != 2 {
			t.Fatalf("DeleteResource() = %d, %v; want its two live access tokens revoked", n, err)
		}
		if status, in := h.post("/oauth/introspect", h.other, h.otherSecret, url.Values{"token": {access}}); status != http.StatusOK || in["active"] != false {
			t.Errorf("introspection of a deleted resource's token: %d %v, want inactive", status, in)
		}
		status, ans = h.post("/oauth/token", h.app, h.appSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
		refused(t, "a refresh for a deleted resource", status, ans)
		if _, err := h.svc.CreateResource(t.Context(), service.NewResource{URI: mcpURI, Name: "Again", Scopes: []string{mcpTools}}); err != nil {
			t.Fatal(err)
		}
		status, ans = h.post("/oauth/token", h.app, h.appSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
		refused(t, "a refresh for a deleted resource registered again", status, ans)
	})
}
