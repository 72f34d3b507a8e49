package httpapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/cimd"
	"github.com/latchkey/latchkey/internal/cimd/cimdtest"
	"github.com/latchkey/latchkey/internal/httpapi"
	"github.com/latchkey/latchkey/internal/oauthtest"
)

// The consent page's words for a client of a metadata document.
const unverifiedNote = "Unverified application"

// agentRedirect is where the test's metadata-document clients receive
// their codes, as an MCP client on a person's machine does.
const agentRedirect = "http://127.0.0.1:7781/callback"

// withDocuments gives the harness a server of metadata documents.
func withDocuments(t testing.TB) func(*oauthHarness) {
	return func(h *oauthHarness) { h.documents = cimdtest.NewServer(t) }
}

// agentDocument is the document of an MCP client, as such clients publish
// them.
func agentDocument() map[string]any {
	return map[string]any{
		"client_name":                "Agent Smith",
		"client_uri":                 "https://agent.example.com",
		"logo_uri":                   "https://agent.example.com/logo.png",
		"redirect_uris":              []string{agentRedirect},
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"token_endpoint_auth_method": "none",
		"scope":                      "tokens.read tokens.write",
	}
}

// agentConfig is the x/oauth2 configuration of the client whose client_id
// is id, as it finds the endpoints in the metadata.
func agentConfig(t *testing.T, h *oauthHarness, id string) *oauth2.Config {
	t.Helper()
	meta := metadataOf(t, h.srv.URL)
	return &oauth2.Config{
		ClientID:    id,
		Endpoint:    oauth2.Endpoint{AuthURL: meta["authorization_endpoint"].(string), TokenURL: meta["token_endpoint"].(string), AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: agentRedirect,
	}
}

// TestMetadataDocumentClient: a client identified by the URL of its
// metadata document goes through the whole flow as an MCP client does:
// the metadata says the server takes such clients; the authorization
// request with PKCE, through x/oauth2; the consent page naming the
// document's host, unverified; the code exchanged for the document's
// scopes; the API; a refresh; introspection naming the URL; revocation by
// the client; and the person's list of applications.
func TestMetadataDocumentClient(t *testing.T) {
	for _, pg := range []bool{false, true} {
		name := "SQLite"
		if pg {
			name = "PostgreSQL"
		}
		t.Run(name, func(t *testing.T) {
			h := newOAuthHarness(t, withDocuments(t), func(h *oauthHarness) { h.postgres = pg })
			if got := metadataOf(t, h.srv.URL)["client_id_metadata_document_supported"]; got != true {
				t.Fatalf("metadata client_id_metadata_document_supported = %v, want true", got)
			}
			id := h.documents.Document("/agent/client.json", agentDocument())
			conf := agentConfig(t, h, id)
			b := oauthtest.NewBrowser(t, h.srv.URL)
			verifier := oauth2.GenerateVerifier()
			p := b.SignIn("alice", h.alicePassword, b.Get(conf.AuthCodeURL("state-cimd-12345", oauth2.S256ChallengeOption(verifier))))
			if !p.IsConsent() || !strings.Contains(p.Body, "Agent Smith") {
				t.Fatalf("want the consent page naming the client, got %d: %.500s", p.Status, p.Body)
			}
			host := strings.TrimPrefix(h.documents.URL, "https://")
			if !strings.Contains(p.Body, unverifiedNote) || !strings.Contains(p.Body, "<strong>"+host+"</strong>") {
				t.Errorf("the consent page does not name the document's host %s as unverified: %.800s", host, p.Body)
			}
			if strings.Contains(p.Body, selfRegisteredNote) {
				t.Errorf("the consent page says a metadata document's client registered itself")
			}
			q := oauthtest.Callback(t, b.Consent(p, "approve"), agentRedirect)
			if q.Get("state") != "state-cimd-12345" || q.Get("code") == "" || q.Get("iss") != h.issuer() {
				t.Fatalf("callback %v: want the state, a code and iss=%s", q, h.issuer())
			}
			// The page and the approval read one fetch of the document.
			if n := h.documents.Hits("/agent/client.json"); n != 1 {
				t.Errorf("the document was fetched %d times, want once", n)
			}
			// Without the verifier the code is refused: a public client.
			if _, err := conf.Exchange(t.Context(), q.Get("code")); err == nil || oauthError(t, err) != "invalid_grant" {
				t.Fatalf("the code exchanged without the PKCE verifier: %v, want invalid_grant", err)
			}

			// Again, now exchanged as it should be.
			p = b.Get(conf.AuthCodeURL("state-cimd-67890", oauth2.S256ChallengeOption(verifier)))
			q = oauthtest.Callback(t, b.Consent(p, "approve"), agentRedirect)
			tok, err := conf.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatal(err)
			}
			if got := tok.Extra("scope"); got != "tokens.read tokens.write" {
				t.Errorf("the token's scope = %v, want the document's tokens.read tokens.write", got)
			}
			if st := h.api(tok.AccessToken, h.alice); st != http.StatusOK {
				t.Errorf("the API with the token = %d, want 200", st)
			}

			// The client's row: public, holding the URL; its token's row
			// is the client's.
			c, err := h.store.ClientByMetadataURL(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			if !c.Public() || c.Name != "Agent Smith" || c.Redirect != agentRedirect {
				t.Errorf("the client's row = %+v, want public, named by its document", c)
			}
			cl := claims(t, tok.AccessToken)
			row, err := h.store.Token(t.Context(), cl["jti"].(string))
			if err != nil || row.ClientID != c.ID || row.UserID != h.alice.ID {
				t.Errorf("the token's row = %+v, %v; want client %d, alice's", row, err, c.ID)
			}
			if cl["aud"] != strconv.FormatInt(c.ID, 10) {
				t.Errorf("the token's aud = %v, want the client's row id %d", cl["aud"], c.ID)
			}

			// The token, revocation and introspection endpoints fetch
			// nothing, even once the document is no longer kept.
			h.clock.Advance(cimd.DefaultTTL)
			defer func() {
				if n := h.documents.Hits("/agent/client.json"); n != 1 {
					t.Errorf("the document was fetched %d times, want once: only the authorization endpoint reads it", n)
				}
			}()

			// Introspection names the client by its client_id, the URL.
			status, in := h.post("/oauth/introspect", h.other, h.otherSecret, url.Values{"token": {tok.AccessToken}})
			if status != http.StatusOK || in["active"] != true || in["client_id"] != id {
				t.Errorf("introspect = %d %v, want active, client_id %s", status, in, id)
			}

			// A refresh, as the client sends it: client_id and no secret.
			status, body := h.post("/oauth/token", nil, "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {id}})
			if status != http.StatusOK || body["refresh_token"] == nil {
				t.Fatalf("refresh = %d %v, want new tokens", status, body)
			}
			refreshed := body["access_token"].(string)
			if st := h.api(refreshed, h.alice); st != http.StatusOK {
				t.Errorf("the API with the refreshed token = %d, want 200", st)
			}
			// Another client_id cannot use the refresh token.
			status, body = h.post("/oauth/token", nil, "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body["refresh_token"].(string)}, "client_id": {strconv.FormatInt(h.native.ID, 10)}})
			if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
				t.Errorf("refresh as another client = %d %v, want 400 invalid_grant", status, body)
			}

			// The person's list of applications names it, unverified.
			apps := b.Get(h.srv.URL + "/applications")
			if !strings.Contains(apps.Body, "Agent Smith") || !strings.Contains(apps.Body, "unverified, from "+host) {
				t.Errorf("/applications does not show the client and its host: %.1500s", apps.Body)
			}

			// The client revokes its token: the authorization ends.
			status, body = h.post("/oauth/revoke", nil, "", url.Values{"token": {refreshed}, "client_id": {id}})
			if status != http.StatusOK {
				t.Fatalf("revoke = %d %v, want 200", status, body)
			}
			if st := h.api(refreshed, h.alice); st != http.StatusUnauthorized {
				t.Errorf("the API with the revoked token = %d, want 401", st)
			}
		})
	}
}

// authorizeURL is an authorization request of the client whose client_id
// is id, with PKCE, and the parameters of extra (an empty value removes
// one).
func authorizeURL(h *oauthHarness, id string, extra url.Values) string {
	v := url.Values{
		"response_type":         {"code"},
		"client_id":             {id},
		"redirect_uri":          {agentRedirect},
		"state":                 {"state-refused-1234"},
		"code_challenge":        {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())},
		"code_challenge_method": {"S256"},
	}
	for k, vs := range extra {
		if vs[0] == "" {
			v.Del(k)
		} else {
			v[k] = vs
		}
	}
	return h.srv.URL + "/oauth/authorize?" + v.Encode()
}

// refusedHere checks that p is the error page with code, never a redirect
// to the application.
func refusedHere(t *testing.T, what string, p oauthtest.Page, status int, code string) {
	t.Helper()
	if p.Location != nil || p.Status != status || !strings.Contains(p.Body, "Error: <code>"+code+"</code>") {
		t.Errorf("%s: %d, to %v: %.300s; want the %d page with %s, not a redirect", what, p.Status, p.Location, p.Body, status, code)
	}
}

// TestMetadataDocumentRefusals: each bad client_id URL, document or
// request is refused with RFC 6749's code; none is sent to a redirect URI,
// which only a good document could vouch for (section 4.1.2.1), except a
// refusal of a request whose client and redirect URI the document
// vouched for.
func TestMetadataDocumentRefusals(t *testing.T) {
	h := newOAuthHarness(t, withDocuments(t))
	d := h.documents
	with := func(change func(map[string]any)) map[string]any {
		doc := agentDocument()
		change(doc)
		return doc
	}
	good := d.Document("/good.json", agentDocument())
	// Documents at paths that no request may fetch.
	for _, p := range []string{"/http.json", "/fragment.json", "/user.json", "/good.json/../dots.json"} {
		d.Document(p, agentDocument())
	}
	for _, tc := range []struct {
		name  string
		id    string // the client_id
		extra url.Values
		code  string
		// fetched is the path whose document the refusal read; "" when
		// the URL was refused before any fetch.
		fetched string
	}{
		{"another client_id in the document", d.Document("/mismatch.json", with(func(m map[string]any) { m["client_id"] = good })), nil, "invalid_client", "/mismatch.json"},
		{"no redirect_uris", d.Document("/no-uris.json", with(func(m map[string]any) { delete(m, "redirect_uris") })), nil, "invalid_client", "/no-uris.json"},
		{"no usable redirect URI", d.Document("/custom.json", with(func(m map[string]any) { m["redirect_uris"] = []string{"com.example.agent:/callback"} })), url.Values{"redirect_uri": {"com.example.agent:/callback"}}, "invalid_client", "/custom.json"},
		{"client_secret_basic", d.Document("/basic.json", with(func(m map[string]any) { m["token_endpoint_auth_method"] = "client_secret_basic" })), nil, "invalid_client", "/basic.json"},
		{"a client_secret", d.Document("/secret.json", with(func(m map[string]any) { m["client_secret"] = "s3cr3t" })), nil, "invalid_client", "/secret.json"},
		{"private_key_jwt", d.Document("/jwt.json", with(func(m map[string]any) { m["token_endpoint_auth_method"] = "private_key_jwt" })), nil, "invalid_client", "/jwt.json"},
		{"no authorization_code grant", d.Document("/grants.json", with(func(m map[string]any) { m["grant_types"] = []string{"client_credentials"} })), nil, "invalid_client", "/grants.json"},
		{"a name with a control character", d.Document("/bell.json", with(func(m map[string]any) { m["client_name"] = "Agent\a" })), nil, "invalid_client", "/bell.json"},
		{"not found", d.URLOf("/missing.json"), nil, "invalid_client", "/missing.json"},
		{"a redirect", d.URLOf("/moved.json"), nil, "invalid_client", "/moved.json"},
		{"HTML", d.URLOf("/page.json"), nil, "invalid_client", "/page.json"},
		{"too big", d.URLOf("/big.json"), nil, "invalid_client", "/big.json"},
		{"http client_id", "http" + strings.TrimPrefix(d.URLOf("/http.json"), "https"), nil, "invalid_client", ""},
		{"a fragment", d.URLOf("/fragment.json") + "#x", nil, "invalid_client", ""},
		{"no path", d.URL, nil, "invalid_client", ""},
		{"a dot segment", d.URLOf("/good.json/../dots.json"), nil, "invalid_client", ""},
		{"user information", "https://user@" + strings.TrimPrefix(d.URLOf("/user.json"), "https://"), nil, "invalid_client", ""},
		{"redirect_uri not in the document", good, url.Values{"redirect_uri": {"http://127.0.0.1:7781/other"}}, "invalid_request", "/good.json"},
		{"redirect_uri on another port", good, url.Values{"redirect_uri": {"http://127.0.0.1:7782/callback"}}, "invalid_request", "/good.json"},
		{"no redirect_uri", good, url.Values{"redirect_uri": {""}}, "invalid_request", "/good.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			switch tc.name {
			case "a redirect":
				d.Handle("/moved.json", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, good, http.StatusFound) })
			case "HTML":
				d.Handle("/page.json", func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "text/html")
					fmt.Fprintf(w, `{"client_id":%q,"redirect_uris":[%q]}`, d.URLOf("/page.json"), agentRedirect)
				})
			case "too big":
				d.Handle("/big.json", func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					fmt.Fprintf(w, `{"client_id":%q,"redirect_uris":[%q],"x":%q}`, d.URLOf("/big.json"), agentRedirect, strings.Repeat("x", cimd.DefaultMaxBytes))
				})
			}
			p := oauthtest.NewBrowser(t, h.srv.URL).Get(authorizeURL(h, tc.id, tc.extra))
			refusedHere(t, tc.name, p, http.StatusBadRequest, tc.code)
			if strings.Contains(p.Body, "s3cr3t") {
				t.Errorf("%s: the page quotes the document's secret", tc.name)
			}
			if tc.fetched != "" && d.Hits(tc.fetched) == 0 {
				t.Errorf("%s: refused before its document %s was read", tc.name, tc.fetched)
			}
		})
	}
	for _, p := range []string{"/http.json", "/fragment.json", "/user.json", "/dots.json", "/good.json/../dots.json"} {
		if n := d.Hits(p); n != 0 {
			t.Errorf("the document at %s, whose URL is refused, was fetched %d times", p, n)
		}
	}
	// None of them made a client.
	cs, err := h.store.Clients(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.MetadataURL != "" && c.MetadataURL != good {
			t.Errorf("a refused document made the client %d of %s", c.ID, c.MetadataURL)
		}
	}

	// Without PKCE, the refusal goes to the redirect URI, which the
	// document vouched for, as any public client's.
	p := oauthtest.NewBrowser(t, h.srv.URL).Get(authorizeURL(h, good, url.Values{"code_challenge": {""}, "code_challenge_method": {""}}))
	if q := oauthtest.Callback(t, p, agentRedirect); q.Get("error") != "invalid_request" || q.Get("iss") != h.issuer() {
		t.Errorf("without PKCE: %v, want error=invalid_request and iss", q)
	}
	p = oauthtest.NewBrowser(t, h.srv.URL).Get(authorizeURL(h, good, url.Values{"code_challenge_method": {"plain"}}))
	if q := oauthtest.Callback(t, p, agentRedirect); q.Get("error") != "invalid_request" {
		t.Errorf("with PKCE plain: %v, want error=invalid_request", q)
	}

	// The row's id is no client_id: the document identifies the client.
	c, err := h.store.ClientByMetadataURL(t.Context(), good)
	if err != nil {
		t.Fatal(err)
	}
	p = oauthtest.NewBrowser(t, h.srv.URL).Get(authorizeURL(h, strconv.FormatInt(c.ID, 10), nil))
	refusedHere(t, "the row's id as client_id", p, http.StatusBadRequest, "invalid_client")
	status, body := h.post("/oauth/token", nil, "", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "client_id": {strconv.FormatInt(c.ID, 10)}})
	if status != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("the token endpoint with the row's id as client_id = %d %v, want 401 invalid_client", status, body)
	}
	// A URL the server never saw is no client at the token endpoint,
	// which fetches nothing.
	status, body = h.post("/oauth/token", nil, "", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "client_id": {d.URLOf("/never.json")}})
	if status != http.StatusUnauthorized || body["error"] != "invalid_client" || d.Hits("/never.json") != 0 {
		t.Errorf("the token endpoint with an unknown client_id URL = %d %v (%d fetches), want 401 invalid_client and no fetch", status, body, d.Hits("/never.json"))
	}
}

// TestMetadataDocumentGuard: with the guard as serve has it, a document
// on the loopback is never fetched; and a server without client metadata
// takes no client_id URL and says so in its metadata.
func TestMetadataDocumentGuard(t *testing.T) {
	h := newOAuthHarness(t, withDocuments(t), func(h *oauthHarness) { h.strictFetch = true })
	id := h.documents.Document("/agent.json", agentDocument())
	p := oauthtest.NewBrowser(t, h.srv.URL).Get(authorizeURL(h, id, nil))
	refusedHere(t, "a document on the loopback", p, http.StatusBadRequest, "invalid_client")
	// Why stays in the log: a page that said it would tell what an
	// address inside a name resolves to.
	if strings.Contains(p.Body, "loopback") {
		t.Errorf("the refusal's page says why the document was not fetched: %.600s", p.Body)
	}
	if !strings.Contains(p.Body, "describes itself in a document at "+strings.TrimPrefix(h.documents.URL, "https://")) {
		t.Errorf("the refusal's page does not name where the document is: %.600s", p.Body)
	}
	if n := h.documents.Conns.Load(); n != 0 {
		t.Errorf("the document's server accepted %d connections, want none", n)
	}

	off := newOAuthHarness(t)
	if got, ok := metadataOf(t, off.srv.URL)["client_id_metadata_document_supported"]; ok {
		t.Errorf("without client metadata, the metadata says client_id_metadata_document_supported %v", got)
	}
	refusedHere(t, "a client_id URL without client metadata", oauthtest.NewBrowser(t, off.srv.URL).Get(authorizeURL(off, "https://agent.example.com/client.json", nil)), http.StatusBadRequest, "invalid_client")
}

// TestMetadataDocumentChanges: once the document is no longer kept, the
// next authorization request reads it again, and the client is what it
// says now: its new name on the consent page, its withdrawn redirect URI
// refused. The operator's revocation holds whatever the document says.
func TestMetadataDocumentChanges(t *testing.T) {
	h := newOAuthHarness(t, withDocuments(t))
	doc := agentDocument()
	doc["redirect_uris"] = []string{agentRedirect, "http://127.0.0.1:7781/old"}
	id := h.documents.Document("/agent.json", doc)
	b := oauthtest.NewBrowser(t, h.srv.URL)
	p := b.SignIn("alice", h.alicePassword, b.Get(authorizeURL(h, id, url.Values{"redirect_uri": {"http://127.0.0.1:7781/old"}})))
	if !p.IsConsent() || !strings.Contains(p.Body, "Agent Smith") {
		t.Fatalf("want the consent page, got %d: %.300s", p.Status, p.Body)
	}

	doc["client_name"], doc["redirect_uris"] = "Agent Jones", []string{agentRedirect}
	h.documents.Document("/agent.json", doc)
	// Kept for DefaultTTL, the document the server read still holds.
	h.clock.Advance(cimd.DefaultTTL - time.Second)
	if p := b.Get(authorizeURL(h, id, nil)); !strings.Contains(p.Body, "Agent Smith") {
		t.Errorf("within the document's lifetime, the consent page = %.300s, want the name read before", p.Body)
	}
	h.clock.Advance(time.Second)
	if p := b.Get(authorizeURL(h, id, nil)); !p.IsConsent() || !strings.Contains(p.Body, "Agent Jones") {
		t.Errorf("after the document's lifetime, the consent page = %d %.300s, want its new name", p.Status, p.Body)
	}
	refusedHere(t, "a redirect URI the document withdrew", b.Get(authorizeURL(h, id, url.Values{"redirect_uri": {"http://127.0.0.1:7781/old"}})), http.StatusBadRequest, "invalid_request")
	if n := h.documents.Hits("/agent.json"); n != 2 {
		t.Errorf("the document was fetched %d times, want twice", n)
	}
	c, err := h.store.ClientByMetadataURL(t.Context(), id)
	if err != nil || c.Name != "Agent Jones" || c.Redirect != agentRedirect {
		t.Fatalf("the client's row = %+v, %v; want it as the document says now", c, err)
	}

	if err := h.svc.RevokeClient(t.Context(), c.ID); err != nil {
		t.Fatal(err)
	}
	refusedHere(t, "a revoked client", b.Get(authorizeURL(h, id, nil)), http.StatusBadRequest, "invalid_client")
}

// TestMetadataDocumentBudget: each address has a budget of fetches, its
// registration budget; a kept document costs nothing.
func TestMetadataDocumentBudget(t *testing.T) {
	h := newOAuthHarness(t, withDocuments(t), func(h *oauthHarness) {
		h.limits = httpapi.Limits{RegistrationPerAddr: httpapi.Rate{PerSecond: 0.001, Burst: 1}}
	})
	first := h.documents.Document("/first.json", agentDocument())
	second := h.documents.Document("/second.json", agentDocument())
	b := oauthtest.NewBrowser(t, h.srv.URL)
	if p := b.Get(authorizeURL(h, first, nil)); !p.IsSignIn() {
		t.Fatalf("the first client's request: %d %.300s, want the sign-in page", p.Status, p.Body)
	}
	p := b.Get(authorizeURL(h, second, nil))
	refusedHere(t, "a fetch past the budget", p, http.StatusTooManyRequests, "temporarily_unavailable")
	if p.Header.Get("Retry-After") == "" {
		t.Error("the refusal has no Retry-After")
	}
	if h.documents.Hits("/second.json") != 0 {
		t.Error("the document past the budget was fetched")
	}
	if p := b.Get(authorizeURL(h, first, nil)); !p.IsSignIn() {
		t.Errorf("the first client's request again, its document kept: %d %.300s, want the sign-in page", p.Status, p.Body)
	}
	if n := h.documents.Hits("/first.json"); n != 1 {
		t.Errorf("the kept document was fetched %d times, want once", n)
	}
}

// TestMetadataDocumentClientResource: a client identified by its metadata
// document asks for a token for a registered resource (RFC 8707): the
// consent page marks it unverified and names the resource, and the token
// is bound to the resource (aud), and names the client by its URL
// (client_id), as introspection says too. The metadata advertises both.
func TestMetadataDocumentClientResource(t *testing.T) {
	h := newResourceHarness(t, withDocuments(t))
	meta := metadataOf(t, h.srv.URL)
	if meta["client_id_metadata_document_supported"] != true || meta["resource_indicators_supported"] != true {
		t.Fatalf("metadata: client_id_metadata_document_supported %v, resource_indicators_supported %v; want both true",
			meta["client_id_metadata_document_supported"], meta["resource_indicators_supported"])
	}
	id := h.documents.Document("/agent/client.json", agentDocument())
	conf := agentConfig(t, h.oauthHarness, id)
	conf.Scopes = []string{mcpTools}
	b := oauthtest.NewBrowser(t, h.srv.URL)
	verifier := oauth2.GenerateVerifier()
	p := b.SignIn("alice", h.alicePassword, b.Get(conf.AuthCodeURL("state-cimd-res-1", oauth2.S256ChallengeOption(verifier), resource(mcpSpelled))))
	if !p.IsConsent() || !strings.Contains(p.Body, unverifiedNote) || !strings.Contains(p.Body, "Tools server") || !strings.Contains(p.Body, "<code>"+mcpURI+"</code>") {
		t.Fatalf("consent page: want the unverified note and the resource's name and URI: %d %.1200s", p.Status, p.Body)
	}
	q := oauthtest.Callback(t, b.Consent(p, "approve"), agentRedirect)
	tok, err := conf.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(verifier), resource(mcpURI))
	if err != nil {
		t.Fatal(err)
	}
	header, c := jwtParts(t, tok.AccessToken)
	if header["typ"] != "at+jwt" || c["aud"] != mcpURI || c["iss"] != h.issuer() || c["scope"] != mcpTools || c["sub"] != strconv.FormatInt(h.alice.ID, 10) {
		t.Errorf("token: header %v claims %v; want at+jwt for %s, scope %s, issued by %s to alice", header, c, mcpURI, mcpTools, h.issuer())
	}
	// Its client_id is the client's, the URL, as introspection says: not
	// the id of the row the server keeps the client in.
	if c["client_id"] != id {
		t.Errorf("token: client_id %v, want the client's client_id %s", c["client_id"], id)
	}
	verifyWithJWKS(t, h.srv.URL, tok.AccessToken)
	if st := h.api(tok.AccessToken, h.alice); st != http.StatusUnauthorized {
		t.Errorf("Latchkey's API with a token for %s = %d, want 401", mcpURI, st)
	}
	status, in := h.post("/oauth/introspect", h.other, h.otherSecret, url.Values{"token": {tok.AccessToken}})
	if status != http.StatusOK || in["active"] != true || in["aud"] != mcpURI || in["client_id"] != id {
		t.Errorf("introspect = %d %v, want active, aud %s, client_id %s", status, in, mcpURI, id)
	}

	// A refresh, as the client sends it, keeps the resource.
	status, body := h.post("/oauth/token", nil, "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {id}})
	if status != http.StatusOK {
		t.Fatalf("refresh = %d %v, want new tokens", status, body)
	}
	if _, c2 := jwtParts(t, body["access_token"].(string)); c2["aud"] != mcpURI {
		t.Errorf("refreshed token's aud = %v, want %s", c2["aud"], mcpURI)
	}
}
