package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/httpapi"
	"github.com/latchkey/latchkey/internal/oauthtest"
)

// selfRegisteredNote is what the consent page says of a client that
// registered itself.
const selfRegisteredNote = "This application registered itself"

// registerRaw posts body to /oauth/register as JSON and returns the
// status, the decoded answer (nil if not JSON) and the response.
func registerRaw(t *testing.T, base, body string) (int, map[string]any, *http.Response) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/oauth/register", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		m = nil
	}
	return resp.StatusCode, m, resp
}

// metadataOf fetches the server's RFC 8414 metadata.
func metadataOf(t *testing.T, base string) map[string]any {
	t.Helper()
	resp, err := http.Get(base + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRegisterPublicClient: a public client registers itself over raw
// HTTP, as an MCP client does, finds every endpoint in the metadata, and
// completes the authorization code flow with PKCE through x/oauth2
// without naming a scope: it is granted the scope it registered.
func TestRegisterPublicClient(t *testing.T) {
	for _, pg := range []bool{false, true} {
		name := "SQLite"
		if pg {
			name = "PostgreSQL"
		}
		t.Run(name, func(t *testing.T) {
			h := newOAuthHarness(t, func(h *oauthHarness) { h.registration, h.postgres = httpapi.RegistrationPublic, pg })
			meta := metadataOf(t, h.srv.URL)
			if meta["registration_endpoint"] != h.srv.URL+"/oauth/register" {
				t.Fatalf("metadata registration_endpoint = %v, want %s/oauth/register", meta["registration_endpoint"], h.srv.URL)
			}
			redirect := "http://127.0.0.1:7779/mcp/callback"
			status, got, resp := registerRaw(t, h.srv.URL, `{
				"redirect_uris": ["`+redirect+`"],
				"client_name": "MCP Inspector",
				"token_endpoint_auth_method": "none",
				"grant_types": ["authorization_code", "refresh_token"],
				"response_types": ["code"],
				"scope": "tokens.read tokens.write",
				"client_uri": "https://inspector.example.com",
				"logo_uri": "https://inspector.example.com/logo.png"
			}`)
			if status != http.StatusCreated {
				t.Fatalf("POST /oauth/register = %d %v, want 201", status, got)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
			id, _ := got["client_id"].(string)
			want := map[string]any{
				"client_id":                  id,
				"client_id_issued_at":        float64(h.clock.Now().Unix()),
				"client_name":                "MCP Inspector",
				"redirect_uris":              []any{redirect},
				"token_endpoint_auth_method": "none",
				"grant_types":                []any{"authorization_code", "refresh_token"},
				"response_types":             []any{"code"},
				"scope":                      "tokens.read tokens.write",
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("registration answer (-want +got):\n%s", diff)
			}
			n, err := strconv.ParseInt(id, 10, 64)
			if err != nil {
				t.Fatalf("client_id %q is not an id", id)
			}
			c, err := h.svc.Client(t.Context(), n)
			if err != nil {
				t.Fatal(err)
			}
			if !c.SelfRegistered || !c.Public() {
				t.Errorf("the registered client is self-registered %t, public %t; want both", c.SelfRegistered, c.Public())
			}

			// The audit log has the registration, by someone not signed in,
			// from where it came.
			recs, err := h.store.AuditRecords(t.Context(), latchkey.AuditFilter{})
			if err != nil {
				t.Fatal(err)
			}
			var audited bool
			for _, r := range recs {
				if r.Action == latchkey.AuditClientAdded && r.SubjectID == id {
					audited = true
					if r.Actor != latchkey.ActorAnonymous || r.Origin.Address != "127.0.0.1" || r.Origin.UserAgent == "" {
						t.Errorf("audit record of the registration: actor %q, origin %+v; want anonymous from 127.0.0.1 with its user agent", r.Actor, r.Origin)
					}
				}
			}
			if !audited {
				t.Errorf("no %s audit record for client %s", latchkey.AuditClientAdded, id)
			}

			conf := &oauth2.Config{
				ClientID:    id,
				Endpoint:    oauth2.Endpoint{AuthURL: meta["authorization_endpoint"].(string), TokenURL: meta["token_endpoint"].(string), AuthStyle: oauth2.AuthStyleInParams},
				RedirectURL: redirect,
			}
			b := oauthtest.NewBrowser(t, h.srv.URL)
			verifier := oauth2.GenerateVerifier()
			p := b.SignIn("alice", h.alicePassword, b.Get(conf.AuthCodeURL("state-dcr-12345", oauth2.S256ChallengeOption(verifier))))
			if !p.IsConsent() || !strings.Contains(p.Body, "MCP Inspector") {
				t.Fatalf("want the consent page naming the client, got %d: %.500s", p.Status, p.Body)
			}
			if !strings.Contains(p.Body, selfRegisteredNote) {
				t.Errorf("the consent page does not say the client registered itself")
			}
			q := oauthtest.Callback(t, b.Consent(p, "approve"), redirect)
			if q.Get("code") == "" || q.Get("iss") != h.issuer() {
				t.Fatalf("callback %v: want a code and iss=%s", q, h.issuer())
			}
			// Without the verifier, the code is refused.
			if _, err := conf.Exchange(t.Context(), q.Get("code")); err == nil {
				t.Fatal("a self-registered public client's code was exchanged without the PKCE verifier")
			}
			// A public client's consent is asked each time: its id is no
			// proof of who asks.
			p = b.Get(conf.AuthCodeURL("state-dcr-67890", oauth2.S256ChallengeOption(verifier)))
			if !p.IsConsent() {
				t.Fatalf("want the consent page again, got %d: %.500s", p.Status, p.Body)
			}
			q = oauthtest.Callback(t, b.Consent(p, "approve"), redirect)
			tok, err := conf.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatal(err)
			}
			if got := tok.Extra("scope"); got != "tokens.read tokens.write" {
				t.Errorf("token answer's scope = %v, want the registered tokens.read tokens.write", got)
			}
			if tok.RefreshToken == "" {
				t.Error("no refresh token")
			}
			if st := h.api(tok.AccessToken, h.alice); st != http.StatusOK {
				t.Errorf("the API with the self-registered client's token = %d, want 200", st)
			}
		})
	}
}

// TestRegisterModes: off serves no endpoint (the API's 404, as any path
// it does not know) and names none in the metadata; public refuses a
// confidential client; open gives one a secret that works.
func TestRegisterModes(t *testing.T) {
	const confidential = `{"redirect_uris": ["https://app.example.com/cb"], "client_name": "Server App", "token_endpoint_auth_method": "client_secret_basic"}`
	const public = `{"redirect_uris": ["http://localhost:8080/cb"], "token_endpoint_auth_method": "none"}`

	t.Run("off", func(t *testing.T) {
		for _, mode := range []httpapi.RegistrationMode{"", httpapi.RegistrationOff} {
			h := newOAuthHarness(t, func(h *oauthHarness) { h.registration = mode })
			if _, ok := metadataOf(t, h.srv.URL)["registration_endpoint"]; ok {
				t.Errorf("mode %q: the metadata names a registration_endpoint", mode)
			}
			status, got, _ := registerRaw(t, h.srv.URL, public)
			unknownStatus, unknown, _ := registerRaw(t, h.srv.URL+"/oauth/unknown", public)
			if status != http.StatusNotFound || !cmp.Equal(got, unknown) || unknownStatus != status {
				t.Errorf("mode %q: POST /oauth/register = %d %v, want the 404 of an unknown path: %d %v", mode, status, got, unknownStatus, unknown)
			}
		}
	})

	t.Run("public", func(t *testing.T) {
		h := newOAuthHarness(t, func(h *oauthHarness) { h.registration = httpapi.RegistrationPublic })
		for _, body := range []string{confidential, strings.Replace(confidential, "client_secret_basic", "client_secret_post", 1)} {
			status, got, _ := registerRaw(t, h.srv.URL, body)
			if status != http.StatusBadRequest || got["error"] != "invalid_client_metadata" {
				t.Errorf("mode public, %s = %d %v; want 400 invalid_client_metadata", body, status, got)
			}
		}
		// No method named: the public default, none, not RFC 7591's
		// client_secret_basic, and the name is the redirect URI's host.
		status, got, _ := registerRaw(t, h.srv.URL, `{"redirect_uris": ["http://localhost:8080/cb"]}`)
		if status != http.StatusCreated || got["token_endpoint_auth_method"] != "none" || got["client_name"] != "localhost" || got["client_secret"] != nil {
			t.Errorf("mode public, no method = %d %v; want 201, none, named localhost, no secret", status, got)
		}
		if status, got, _ := registerRaw(t, h.srv.URL, public); status != http.StatusCreated {
			t.Errorf("mode public, a public client = %d %v, want 201", status, got)
		}
		// Other methods on the path.
		resp, err := http.Get(h.srv.URL + "/oauth/register")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
			t.Errorf("GET /oauth/register = %d Allow %q, want 405 Allow POST", resp.StatusCode, resp.Header.Get("Allow"))
		}
	})

	t.Run("open", func(t *testing.T) {
		h := newOAuthHarness(t, func(h *oauthHarness) { h.registration = httpapi.RegistrationOpen })
		status, got, _ := registerRaw(t, h.srv.URL, confidential)
		secret, _ := got["client_secret"].(string)
		if status != http.StatusCreated || secret == "" || got["client_secret_expires_at"] != float64(0) || got["token_endpoint_auth_method"] != "client_secret_basic" {
			t.Fatalf("mode open, a confidential client = %d %v; want 201 with a secret that does not expire", status, got)
		}
		// RFC 7591's default method is client_secret_basic.
		status, got, _ = registerRaw(t, h.srv.URL, `{"redirect_uris": ["https://b.example.com/cb"]}`)
		if status != http.StatusCreated || got["token_endpoint_auth_method"] != "client_secret_basic" || got["client_secret"] == nil {
			t.Errorf("mode open, no method = %d %v; want a confidential client", status, got)
		}
		status, got, _ = registerRaw(t, h.srv.URL, public)
		if status != http.StatusCreated || got["client_secret"] != nil || got["client_secret_expires_at"] != nil {
			t.Errorf("mode open, a public client = %d %v; want 201 without a secret", status, got)
		}

		// The confidential client's secret works at the token endpoint.
		conf := &oauth2.Config{
			ClientID: "", ClientSecret: secret, RedirectURL: "https://app.example.com/cb",
			Endpoint: oauth2.Endpoint{AuthURL: h.srv.URL + "/oauth/authorize", TokenURL: h.srv.URL + "/oauth/token"},
		}
		_, first, _ := registerRaw(t, h.srv.URL, confidential)
		conf.ClientID, conf.ClientSecret = first["client_id"].(string), first["client_secret"].(string)
		b := oauthtest.NewBrowser(t, h.srv.URL)
		p := b.SignIn("alice", h.alicePassword, b.Get(conf.AuthCodeURL("state-open-12345")))
		q := oauthtest.Callback(t, b.Consent(p, "approve"), conf.RedirectURL)
		if _, err := conf.Exchange(t.Context(), q.Get("code")); err != nil {
			t.Errorf("exchanging the code of a confidential self-registered client: %v", err)
		}
		// The operator's clients are not called self-registered.
		p = b.Get(h.config(h.app, h.appSecret, h.redirect, "tokens.read").AuthCodeURL("state-open-67890"))
		if !p.IsConsent() || strings.Contains(p.Body, selfRegisteredNote) {
			t.Errorf("the consent page of the operator's client: %d, says self-registered %t", p.Status, strings.Contains(p.Body, selfRegisteredNote))
		}
	})
}

// TestRegisterRefuses: each bad registration is refused with 400 and
// RFC 7591's error code, and registers nothing.
func TestRegisterRefuses(t *testing.T) {
	h := newOAuthHarness(t, func(h *oauthHarness) { h.registration = httpapi.RegistrationPublic })
	before, err := h.svc.Clients(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	const ok = `"redirect_uris": ["https://app.example.com/cb"]`
	for _, tc := range []struct {
		name, body, want string
	}{
		{"no redirect URI", `{"client_name": "App"}`, "invalid_redirect_uri"},
		{"empty redirect URIs", `{"redirect_uris": []}`, "invalid_redirect_uri"},
		{"http elsewhere", `{"redirect_uris": ["http://app.example.com/cb"]}`, "invalid_redirect_uri"},
		{"fragment", `{"redirect_uris": ["https://app.example.com/cb#x"]}`, "invalid_redirect_uri"},
		{"relative", `{"redirect_uris": ["/cb"]}`, "invalid_redirect_uri"},
		{"custom scheme", `{"redirect_uris": ["com.example.app:/cb"]}`, "invalid_redirect_uri"},
		{"a bidirectional override in a redirect URI", `{"redirect_uris": ["https://good.example/\u202Emoc.live"]}`, "invalid_redirect_uri"},
		{"a zero width space in a redirect URI", `{"redirect_uris": ["http://127.0.0.1/c\u200Bb"]}`, "invalid_redirect_uri"},
		{"a letter not ASCII in a redirect URI", `{"redirect_uris": ["https://app.example.com/caf\u00e9"]}`, "invalid_redirect_uri"},
		{"a bad one among good", `{"redirect_uris": ["https://app.example.com/cb", "ftp://x.example.com/"]}`, "invalid_redirect_uri"},
		{"redirect URIs not a list", `{"redirect_uris": "https://app.example.com/cb"}`, "invalid_client_metadata"},
		{"unknown scope", `{` + ok + `, "scope": "tokens.read admin"}`, "invalid_client_metadata"},
		{"scope not a string", `{` + ok + `, "scope": ["tokens.read"]}`, "invalid_client_metadata"},
		{"unknown grant type", `{` + ok + `, "grant_types": ["authorization_code", "client_credentials"]}`, "invalid_client_metadata"},
		{"implicit", `{` + ok + `, "grant_types": ["implicit"], "response_types": ["token"]}`, "invalid_client_metadata"},
		{"refresh alone", `{` + ok + `, "grant_types": ["refresh_token"]}`, "invalid_client_metadata"},
		{"token response type", `{` + ok + `, "response_types": ["code", "token"]}`, "invalid_client_metadata"},
		{"unknown auth method", `{` + ok + `, "token_endpoint_auth_method": "private_key_jwt"}`, "invalid_client_metadata"},
		{"confidential in mode public", `{` + ok + `, "token_endpoint_auth_method": "client_secret_basic"}`, "invalid_client_metadata"},
		{"name with a control character", `{` + ok + `, "client_name": "App\u0007"}`, "invalid_client_metadata"},
		{"name with a bidirectional override", `{` + ok + `, "client_name": "invoice\u202Egnp.exe"}`, "invalid_client_metadata"},
		{"name with a zero width space", `{` + ok + `, "client_name": "Co\u200Bnf"}`, "invalid_client_metadata"},
		{"name too long", `{` + ok + `, "client_name": "` + strings.Repeat("a", 300) + `"}`, "invalid_client_metadata"},
		{"not an object", `["https://app.example.com/cb"]`, "invalid_client_metadata"},
		{"not JSON", `redirect_uris=https://app.example.com/cb`, "invalid_client_metadata"},
		{"empty", ``, "invalid_client_metadata"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, got, resp := registerRaw(t, h.srv.URL, tc.body)
			if status != http.StatusBadRequest || got["error"] != tc.want || got["error_description"] == "" {
				t.Errorf("POST /oauth/register %s = %d %v, want 400 %s with a description", tc.body, status, got, tc.want)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
		})
	}
	t.Run("not sent as JSON", func(t *testing.T) {
		resp, err := http.Post(h.srv.URL+"/oauth/register", "application/x-www-form-urlencoded", strings.NewReader(`{`+ok+`}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&got)
		if resp.StatusCode != http.StatusBadRequest || got["error"] != "invalid_client_metadata" {
			t.Errorf("a form-encoded registration = %d %v, want 400 invalid_client_metadata", resp.StatusCode, got)
		}
	})
	t.Run("too large", func(t *testing.T) {
		status, got, _ := registerRaw(t, h.srv.URL, `{`+ok+`, "client_uri": "`+strings.Repeat("a", httpapi.MaxBodyBytes)+`"}`)
		if status != http.StatusRequestEntityTooLarge || got["error"] != "invalid_client_metadata" {
			t.Errorf("a registration over 64 KiB = %d %v, want 413 invalid_client_metadata", status, got)
		}
	})
	after, err := h.svc.Clients(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("refused registrations left %d clients, want %d", len(after), len(before))
	}
}

// TestRegisterRateLimit: registrations from one address, accepted or
// refused, spend its budget; past it, 429 with Retry-After, until the
// bucket refills on the server's clock.
func TestRegisterRateLimit(t *testing.T) {
	h := newOAuthHarness(t, func(h *oauthHarness) {
		h.registration = httpapi.RegistrationPublic
		h.limits = httpapi.Limits{RegistrationPerAddr: httpapi.Rate{PerSecond: 0.1, Burst: 2}}
	})
	const good = `{"redirect_uris": ["http://127.0.0.1:9000/cb"]}`
	if status, got, _ := registerRaw(t, h.srv.URL, good); status != http.StatusCreated {
		t.Fatalf("first registration = %d %v, want 201", status, got)
	}
	if status, _, _ := registerRaw(t, h.srv.URL, `{}`); status != http.StatusBadRequest {
		t.Fatalf("second, refused, registration = %d, want 400", status)
	}
	status, got, resp := registerRaw(t, h.srv.URL, good)
	if status != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "10" || got["error"] == nil {
		t.Fatalf("third registration = %d %v Retry-After %q, want 429 with Retry-After 10", status, got, resp.Header.Get("Retry-After"))
	}
	h.clock.Advance(10 * time.Second)
	if status, got, _ := registerRaw(t, h.srv.URL, good); status != http.StatusCreated {
		t.Errorf("after 10 seconds, registration = %d %v, want 201", status, got)
	}
	// The token endpoint's budget is its own.
	if st, _ := h.post("/oauth/token", h.app, h.appSecret, nil); st == http.StatusTooManyRequests {
		t.Error("the registration limit throttled the token endpoint")
	}
}
