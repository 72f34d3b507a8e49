package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/cimd/cimdtest"
	"github.com/latchkey/latchkey/internal/oauthtest"
	"github.com/latchkey/latchkey/internal/sqlite"
)

// oauthToken runs the authorization code flow against the server at base
// for the user login, as the README shows it: give the user a password,
// register an application at the command line, sign in and approve in
// the browser, exchange the code with PKCE. It returns the access token.
func oauthToken(t *testing.T, env func(string) string, base, login, _ string) string {
	t.Helper()
	const pw = "a password for the flow"
	if _, err := cli(t, env, pw+"\n", "user", "update", "--password-stdin", login); err != nil {
		t.Fatalf("user update --password-stdin %s: %v", login, err)
	}
	redirect := "http://127.0.0.1:9/callback"
	out := mustCLI(t, env, "client", "create", "--name", "Flow for "+login, "--redirect-uri", redirect)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("client create printed %q", out)
	}
	conf := &oauth2.Config{
		ClientID: lines[0], ClientSecret: lines[1], RedirectURL: redirect, Scopes: []string{"*"},
		Endpoint: oauth2.Endpoint{AuthURL: base + "/oauth/authorize", TokenURL: base + "/oauth/token"},
	}
	verifier := oauth2.GenerateVerifier()
	code := oauthtest.NewBrowser(t, base).Authorize(conf, login, pw, oauth2.S256ChallengeOption(verifier))
	tok, err := conf.Exchange(t.Context(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchanging the code: %v", err)
	}
	return tok.AccessToken
}

// TestOAuthEndToEnd is the README's OAuth walk-through on "latchkey
// serve": the token the flow yields calls the API, and "client revoke"
// ends it.
func TestOAuthEndToEnd(t *testing.T) {
	env := testEnv(map[string]string{"LATCHKEY_DATABASE": filepath.Join(t.TempDir(), "oauth.db")})
	base, _, _ := serve(t, env)
	tok := oauthToken(t, env, base, "admin", "1")
	call := func() int {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/1.0/users/1/tokens", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := call(); got != http.StatusOK {
		t.Fatalf("API with the OAuth token: %d, want 200", got)
	}
	list := mustCLI(t, env, "client", "list")
	if !strings.Contains(list, "Flow for admin") {
		t.Fatalf("client list: %s", list)
	}
	mustCLI(t, env, "client", "revoke", "2")
	// The command is another process as far as the server knows: it hears
	// of the revocation through the database's event log, polled every
	// 100ms.
	deadline := time.Now().Add(2 * time.Second)
	for call() != http.StatusUnauthorized {
		if time.Now().After(deadline) {
			t.Fatal("the API still accepts the token 2s after client revoke")
		}
		time.Sleep(20 * time.Millisecond)
	}
	meta, err := http.Get(base + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	meta.Body.Close()
	if meta.StatusCode != http.StatusOK {
		t.Errorf("metadata: %d", meta.StatusCode)
	}
	// The refused token's 401 names the API's RFC 9728 document, which
	// names the API and its authorization server.
	req, _ := http.NewRequest(http.MethodGet, base+"/api/1.0/users/1/tokens", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	doc := base + "/.well-known/oauth-protected-resource/api/1.0"
	if got, want := resp.Header.Get("WWW-Authenticate"), `Bearer error="invalid_token", resource_metadata="`+doc+`"`; got != want {
		t.Errorf("401 WWW-Authenticate = %q, want %q", got, want)
	}
	resp, err = http.Get(doc)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var pr struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&pr); err != nil || resp.StatusCode != http.StatusOK ||
		pr.Resource != base+"/api/1.0" || len(pr.AuthorizationServers) != 1 || pr.AuthorizationServers[0] != base {
		t.Errorf("GET %s = %d %+v (%v), want resource %s/api/1.0 and authorization server %s", doc, resp.StatusCode, pr, err, base, base)
	}
}

// TestOAuthDefaultScopesEndToEnd is an MCP client's first step on "latchkey
// serve": an authorization request without scope completes, with the
// client's --default-scopes, else the server's --oauth-default-scopes
// (tokens.read unless set), and every answer carries iss (RFC 9207).
func TestOAuthDefaultScopesEndToEnd(t *testing.T) {
	for _, tc := range []struct {
		name      string
		serveArgs []string
		client    []string // client create's --default-scopes, if any
		want      string   // the token's scope
	}{
		{"the client's", nil, []string{"--default-scopes", "tokens.read,tokens.write"}, "tokens.read tokens.write"},
		{"the server's default", nil, nil, "tokens.read"},
		{"the server's by --oauth-default-scopes", []string{"--oauth-default-scopes", "tokens.write"}, nil, "tokens.write"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := testEnv(map[string]string{"LATCHKEY_DATABASE": filepath.Join(t.TempDir(), "oauth.db")})
			base, _, _ := serve(t, env, tc.serveArgs...)
			const pw = "a password for the flow"
			if _, err := cli(t, env, pw+"\n", "user", "update", "--password-stdin", "admin"); err != nil {
				t.Fatal(err)
			}
			redirect := "http://127.0.0.1:9/callback"
			id := strings.TrimSpace(mustCLI(t, env, append([]string{"client", "create", "--name", "Agent", "--redirect-uri", redirect, "--public"}, tc.client...)...))
			conf := &oauth2.Config{ClientID: id, RedirectURL: redirect,
				Endpoint: oauth2.Endpoint{AuthURL: base + "/oauth/authorize", TokenURL: base + "/oauth/token"}}
			b := oauthtest.NewBrowser(t, base)
			verifier := oauth2.GenerateVerifier()
			p := b.SignIn("admin", pw, b.Get(conf.AuthCodeURL("state-e2e-12345", oauth2.S256ChallengeOption(verifier))))
			for _, sc := range strings.Fields(tc.want) {
				if !strings.Contains(p.Body, "<code>"+sc+"</code>") {
					t.Errorf("the consent page does not name %s: %.600s", sc, p.Body)
				}
			}
			q := oauthtest.Callback(t, b.Consent(p, "approve"), redirect)
			if q.Get("iss") != base {
				t.Errorf("iss = %q, want the issuer %q", q.Get("iss"), base)
			}
			tok, err := conf.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatal(err)
			}
			if got := tok.Extra("scope"); got != tc.want {
				t.Errorf("the token's scope = %v, want %q", got, tc.want)
			}

			// Refusals go back with iss too: the person denies; the
			// application asks for a scope the server does not offer.
			p = b.Get(conf.AuthCodeURL("state-e2e-67890", oauth2.S256ChallengeOption(verifier)))
			for name, p := range map[string]oauthtest.Page{
				"access_denied": b.Consent(p, "deny"),
				"invalid_scope": b.Get(conf.AuthCodeURL("state-e2e-00000", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("scope", "admin"))),
			} {
				if q := oauthtest.Callback(t, p, redirect); q.Get("error") != name || q.Get("iss") != base {
					t.Errorf("refusal %v: want error=%s and iss=%s", q, name, base)
				}
			}
		})
	}

	t.Run("metadata", func(t *testing.T) {
		env := testEnv(map[string]string{"LATCHKEY_DATABASE": filepath.Join(t.TempDir(), "oauth.db")})
		base, _, _ := serve(t, env, "--extra-scopes", "mcp.tools")
		resp, err := http.Get(base + "/.well-known/oauth-authorization-server")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		if m["issuer"] != base || m["authorization_response_iss_parameter_supported"] != true || fmt.Sprint(m["scopes_supported"]) != "[tokens.read tokens.write * mcp.tools]" {
			t.Errorf("metadata %v: want issuer %s, authorization_response_iss_parameter_supported true, and the scopes with mcp.tools", m, base)
		}
	})
}

// TestOAuthRegistration: "latchkey serve" takes registrations at
// /oauth/register by default (public clients), client list shows them as
// self-registered, and client revoke revokes them; with
// --oauth-registration off, as LATCHKEY_OAUTH_REGISTRATION, there is no
// such endpoint.
func TestOAuthRegistration(t *testing.T) {
	register := func(base string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Post(base+"/oauth/register", "application/json",
			strings.NewReader(`{"redirect_uris": ["http://127.0.0.1:9/callback"], "client_name": "Agent", "token_endpoint_auth_method": "none"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	metadata := func(base string) map[string]any {
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

	t.Run("default", func(t *testing.T) {
		env := testEnv(map[string]string{"LATCHKEY_DATABASE": filepath.Join(t.TempDir(), "dcr.db")})
		base, _, _ := serve(t, env)
		if got := metadata(base)["registration_endpoint"]; got != base+"/oauth/register" {
			t.Errorf("metadata registration_endpoint = %v, want %s/oauth/register", got, base)
		}
		status, got := register(base)
		if status != http.StatusCreated || got["client_id"] != "2" {
			t.Fatalf("POST /oauth/register = %d %v, want 201 and client 2", status, got)
		}
		var self string
		for line := range strings.SplitSeq(mustCLI(t, env, "client", "list"), "\n") {
			if strings.HasPrefix(line, "2 ") {
				self = line
			}
		}
		if !strings.Contains(self, "Agent") || !strings.Contains(self, "public") || !strings.Contains(self, "self-registered") {
			t.Errorf("client list's line of the registered client = %q, want it named, public and self-registered", self)
		}
		var row struct {
			Source  string `json:"source"`
			Revoked bool   `json:"revoked"`
		}
		js := strings.Split(strings.TrimSpace(mustCLI(t, env, "client", "list", "--json")), "\n")
		if err := json.Unmarshal([]byte(js[len(js)-1]), &row); err != nil || row.Source != "self-registered" {
			t.Errorf("client list --json of client 2 = %q (%v), want source self-registered", js[len(js)-1], err)
		}
		mustCLI(t, env, "client", "revoke", "2")
		js = strings.Split(strings.TrimSpace(mustCLI(t, env, "client", "list", "--json")), "\n")
		if err := json.Unmarshal([]byte(js[len(js)-1]), &row); err != nil || !row.Revoked {
			t.Errorf("after client revoke 2, client list --json = %q (%v), want it revoked", js[len(js)-1], err)
		}
	})

	t.Run("off", func(t *testing.T) {
		env := testEnv(map[string]string{"LATCHKEY_DATABASE": filepath.Join(t.TempDir(), "dcr.db"), "LATCHKEY_OAUTH_REGISTRATION": "off"})
		base, _, _ := serve(t, env)
		if got, ok := metadata(base)["registration_endpoint"]; ok {
			t.Errorf("with registration off, the metadata names registration_endpoint %v", got)
		}
		if status, got := register(base); status != http.StatusNotFound {
			t.Errorf("with registration off, POST /oauth/register = %d %v, want 404", status, got)
		}
	})
}

// TestOAuthClientMetadata: "latchkey serve" takes client_id URLs by
// default and says so in its metadata, with the guard as production has
// it: a document on the loopback (a test's server) is never fetched, and
// the request is refused on the server's own page. client list shows a
// client of a metadata document with its source and URL. With
// --oauth-client-metadata=false, as LATCHKEY_OAUTH_CLIENT_METADATA, the
// metadata does not say it, and such a client_id is refused.
func TestOAuthClientMetadata(t *testing.T) {
	docs := cimdtest.NewServer(t)
	id := docs.Document("/agent.json", map[string]any{"client_name": "Agent", "redirect_uris": []string{"http://127.0.0.1:9/callback"}})
	authorize := func(base string) oauthtest.Page {
		t.Helper()
		conf := &oauth2.Config{ClientID: id, RedirectURL: "http://127.0.0.1:9/callback", Endpoint: oauth2.Endpoint{AuthURL: base + "/oauth/authorize"}}
		return oauthtest.NewBrowser(t, base).Get(conf.AuthCodeURL("state-cimd-12345", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	}
	metadata := func(base string) map[string]any {
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

	t.Run("default", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "cimd.db")
		env := testEnv(map[string]string{"LATCHKEY_DATABASE": db})
		base, _, _ := serve(t, env)
		if got := metadata(base)["client_id_metadata_document_supported"]; got != true {
			t.Errorf("metadata client_id_metadata_document_supported = %v, want true", got)
		}
		p := authorize(base)
		if p.Status != http.StatusBadRequest || p.Location != nil || !strings.Contains(p.Body, "<code>invalid_client</code>") {
			t.Errorf("an authorization request of a document on the loopback = %d to %v: %.300s; want the 400 page, invalid_client", p.Status, p.Location, p.Body)
		}
		if n := docs.Conns.Load(); n != 0 {
			t.Errorf("serve connected %d times to the document's server on the loopback, want never", n)
		}

		// A client of a metadata document, as a fetch would make it.
		st, err := sqlite.Open(t.Context(), db)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		err = st.CreateClient(t.Context(), &latchkey.Client{Name: "Agent", Redirect: "http://127.0.0.1:9/callback", SelfRegistered: true, MetadataURL: id, CreatedAt: now, UpdatedAt: now})
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		var line string
		for l := range strings.SplitSeq(mustCLI(t, env, "client", "list"), "\n") {
			if strings.HasPrefix(l, "2 ") {
				line = l
			}
		}
		if !strings.Contains(line, "Agent") || !strings.Contains(line, "public") || !strings.Contains(line, "metadata document "+id) {
			t.Errorf("client list's line of the client = %q, want it named, public, from the metadata document at %s", line, id)
		}
		var row struct {
			Source   string `json:"source"`
			ClientID string `json:"client_id"`
		}
		js := strings.Split(strings.TrimSpace(mustCLI(t, env, "client", "list", "--json")), "\n")
		if err := json.Unmarshal([]byte(js[len(js)-1]), &row); err != nil || row.Source != "metadata document" || row.ClientID != id {
			t.Errorf("client list --json of client 2 = %q (%v), want source metadata document, client_id %s", js[len(js)-1], err, id)
		}
	})

	t.Run("off", func(t *testing.T) {
		env := testEnv(map[string]string{"LATCHKEY_DATABASE": filepath.Join(t.TempDir(), "cimd.db"), "LATCHKEY_OAUTH_CLIENT_METADATA": "false"})
		base, _, _ := serve(t, env)
		if got, ok := metadata(base)["client_id_metadata_document_supported"]; ok {
			t.Errorf("with --oauth-client-metadata=false, the metadata says client_id_metadata_document_supported %v", got)
		}
		if p := authorize(base); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "<code>invalid_client</code>") {
			t.Errorf("with --oauth-client-metadata=false, a client_id URL = %d: %.300s; want the 400 page, invalid_client", p.Status, p.Body)
		}
	})
}
