package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/latchkeytest"
	"github.com/latchkey/latchkey/internal/oauthtest"
	"github.com/latchkey/latchkey/resource"
)

func TestMain(m *testing.M) { os.Exit(latchkeytest.Main(m)) }

// The scopes the tests' Latchkey accepts beyond its own.
const extraScopes = "mcp.read,mcp.call"

// adminPassword is the password the tests give Latchkey's administrator,
// who signs in and approves in the authorization code flow.
const adminPassword = "a password for the flow"

// agentToken runs the authorization code flow with PKCE against lk, as an
// MCP client does: a public client registered at the command line, the
// administrator signing in and approving scopes, opts added to both the
// authorization request and the code's exchange (RFC 8707's resource,
// say). It returns the access token.
func agentToken(t *testing.T, lk *latchkeytest.Server, scopes []string, params ...string) string {
	t.Helper()
	lk.CLIInput(t, adminPassword+"\n", "user", "update", "--password-stdin", "admin")
	redirect := "http://127.0.0.1:9/callback"
	id := lk.CLI(t, "client", "create", "--name", "An MCP client", "--redirect-uri", redirect, "--public")
	conf := &oauth2.Config{
		ClientID: id, RedirectURL: redirect, Scopes: scopes,
		Endpoint: oauth2.Endpoint{AuthURL: lk.URL + "/oauth/authorize", TokenURL: lk.URL + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams},
	}
	verifier := oauth2.GenerateVerifier()
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	for i := 0; i < len(params); i += 2 {
		opts = append(opts, oauth2.SetAuthURLParam(params[i], params[i+1]))
	}
	code := oauthtest.NewBrowser(t, lk.URL).Authorize(conf, "admin", adminPassword, opts...)
	opts[0] = oauth2.VerifierOption(verifier)
	tok, err := conf.Exchange(t.Context(), code, opts...)
	if err != nil {
		t.Fatalf("exchanging the code: %v", err)
	}
	return tok.AccessToken
}

// resourceServerClient registers, at lk's command line, the confidential
// client the MCP server asks the introspection endpoint with, and returns
// its id and secret.
func resourceServerClient(t *testing.T, lk *latchkeytest.Server) (id, secret string) {
	t.Helper()
	out := strings.Fields(lk.CLI(t, "client", "create", "--name", "The MCP server", "--redirect-uri", "http://127.0.0.1:9/unused"))
	if len(out) != 2 {
		t.Fatalf("client create printed %q, want the id and the secret", out)
	}
	return out[0], out[1]
}

// claimsOf decodes the JSON of a token's header (0) or claims (1).
func claimsOf(t *testing.T, token string, i int) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// post sends an MCP message to url with token.
func post(t *testing.T, url, token, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// getJSON fetches url and decodes its JSON object.
func getJSON(t *testing.T, url string) map[string]any {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d, %v", url, resp.StatusCode, err)
	}
	return m
}

var servingLine = regexp.MustCompile(`serving (http://\S+)`)

// startMCP runs the command (run, with its flags) against lk, and returns
// the URL of its MCP endpoint.
func startMCP(t *testing.T, lk *latchkeytest.Server) string {
	t.Helper()
	id, secret := resourceServerClient(t, lk)
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stderr := latchkeytest.NewLog()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--issuer", lk.URL, "--client-id", id,
			"--client-secret-file", secretFile, "--insecure-loopback"}, func(string) string { return "" }, stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return stderr.Await(t, "the MCP server", servingLine, done)
}

// TestMCPOnLatchkey: the command against a real Latchkey. An MCP client
// that is refused finds its way to Latchkey (the challenge names the RFC
// 9728 document, which names Latchkey, whose RFC 8414 metadata says where
// to authorise); and the tokens Latchkey issues that are not for this
// resource, a personal token and an OAuth token without a resource, are
// refused, each a 401 invalid_token.
func TestMCPOnLatchkey(t *testing.T) {
	lk := latchkeytest.Start(t, "--extra-scopes", extraScopes)
	mcp := startMCP(t, lk)
	list := `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`

	resp := post(t, mcp, "", list)
	m := regexp.MustCompile(`resource_metadata="([^"]+)"`).FindStringSubmatch(resp.Header.Get("WWW-Authenticate"))
	if resp.StatusCode != 401 || m == nil {
		t.Fatalf("no token: %d %q, want 401 naming the resource metadata", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	doc := getJSON(t, m[1])
	if doc["resource"] != mcp {
		t.Errorf("the RFC 9728 document's resource = %v, want %s", doc["resource"], mcp)
	}
	servers, _ := doc["authorization_servers"].([]any)
	if len(servers) != 1 || servers[0] != lk.URL {
		t.Fatalf("authorization_servers = %v, want [%s]", doc["authorization_servers"], lk.URL)
	}
	as := getJSON(t, lk.URL+"/.well-known/oauth-authorization-server")
	if as["issuer"] != lk.URL || as["authorization_endpoint"] != lk.URL+"/oauth/authorize" {
		t.Errorf("Latchkey's metadata: %v", as)
	}

	personal := lk.CLI(t, "token", "create", "--user", "admin", "--name", "not for MCP", "--scopes", extraScopes, "--extra-scopes", extraScopes)
	oauth := agentToken(t, lk, []string{"mcp.read", "mcp.call"})
	for name, tok := range map[string]string{"a personal token": personal, "an OAuth token without a resource": oauth} {
		if aud := claimsOf(t, tok, 1)["aud"]; aud == mcp {
			t.Fatalf("%s has aud %v", name, aud)
		}
		resp := post(t, mcp, tok, list)
		if got := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != 401 || !strings.HasPrefix(got, `Bearer error="invalid_token"`) {
			t.Errorf("%s: %d %q, want 401 invalid_token", name, resp.StatusCode, got)
		}
	}
}

// TestMCPResourceBoundToken is the whole story on a real Latchkey: the
// MCP server registered as a resource, an MCP client that asks for a
// token for it (RFC 8707), the token accepted for what its scopes allow,
// Latchkey's key rotation followed, and a revocation seen once the kept
// introspection answer runs out. The MCP server here is the handler with
// a Verifier on the test's clock.
func TestMCPResourceBoundToken(t *testing.T) {
	lk := latchkeytest.Start(t, "--extra-scopes", extraScopes)
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	defer srv.Close()
	rs := srv.URL + "/mcp"
	lk.CLI(t, "resource", "create", "--uri", rs, "--name", "Example MCP server", "--scopes", extraScopes)
	id, secret := resourceServerClient(t, lk)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	v, err := resource.New(t.Context(), resource.Config{
		Issuer: lk.URL, Resource: rs, Scopes: []string{scopeRead, scopeCall},
		ClientID: id, ClientSecret: secret, InsecureLoopback: true, Now: clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	h = newHandler(v)

	tok := agentToken(t, lk, []string{scopeRead, scopeCall}, "resource", rs)
	if hd, c := claimsOf(t, tok, 0), claimsOf(t, tok, 1); hd["typ"] != "at+jwt" || c["aud"] != rs || c["iss"] != lk.URL {
		t.Fatalf("the token for the resource: header %v, claims %v", hd, c)
	}
	call := func(tok, body string) (int, map[string]any) {
		t.Helper()
		resp := post(t, rs, tok, body)
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	for _, body := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e","version":"1"}}}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`,
	} {
		if status, m := call(tok, body); status != 200 || m["result"] == nil {
			t.Fatalf("%s: %d %v", body, status, m)
		}
	}
	status, m := call(tok, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`)
	result, _ := m["result"].(map[string]any)
	if who, _ := result["structuredContent"].(map[string]any); status != 200 || who["user"] != "1" {
		t.Errorf("whoami: %d %v, want user 1", status, m)
	}

	// A token for the resource with mcp.read only lists, and may not call.
	readOnly := agentToken(t, lk, []string{scopeRead}, "resource", rs)
	if status, _ := call(readOnly, `{"jsonrpc":"2.0","id":4,"method":"tools/list"}`); status != 200 {
		t.Errorf("tools/list with mcp.read: %d", status)
	}
	if status, _ := call(readOnly, `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"whoami"}}`); status != 403 {
		t.Errorf("tools/call with mcp.read only: %d, want 403", status)
	}

	// Latchkey rotates its key: a token of the new key is accepted once
	// the JWKS may be fetched again.
	kid := lk.CLI(t, "keys", "rotate", "--alg", "ES256")
	rotated := agentToken(t, lk, []string{scopeRead, scopeCall}, "resource", rs)
	if claimsOf(t, rotated, 0)["kid"] != kid {
		t.Fatalf("after keys rotate, the token's kid is %v, want %s", claimsOf(t, rotated, 0)["kid"], kid)
	}
	advance(10 * time.Second)
	if status, _ := call(rotated, `{"jsonrpc":"2.0","id":6,"method":"tools/list"}`); status != 200 {
		t.Errorf("a token of the new key: %d", status)
	}
	if status, _ := call(tok, `{"jsonrpc":"2.0","id":7,"method":"tools/list"}`); status != 200 {
		t.Errorf("a token of the old key after the rotation: %d", status)
	}

	// Revoked at Latchkey: accepted while the answer kept for it lasts,
	// refused after.
	advance(30 * time.Second) // past the kept answers of tok
	if status, _ := call(rotated, `{"jsonrpc":"2.0","id":8,"method":"tools/list"}`); status != 200 {
		t.Fatalf("before the revocation: %d", status)
	}
	lk.CLI(t, "token", "revoke", claimsOf(t, rotated, 1)["jti"].(string))
	advance(29 * time.Second)
	if status, _ := call(rotated, `{"jsonrpc":"2.0","id":9,"method":"tools/list"}`); status != 200 {
		t.Errorf("revoked, within the kept answer's 30s: %d, want 200", status)
	}
	advance(time.Second)
	if status, _ := call(rotated, `{"jsonrpc":"2.0","id":10,"method":"tools/list"}`); status != 401 {
		t.Errorf("revoked, past the kept answer's 30s: %d, want 401", status)
	}
}
