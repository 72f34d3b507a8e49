package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/oauthtest"
)

// TestResourceEndToEnd is RFC 8707 on "latchkey serve": a resource server
// registered at the command line; a token for it, asked for in another
// spelling of its URI, that Latchkey's API refuses and introspection
// reports with the resource as its audience; a token for the API's own
// resource, which the API takes; and, once the resource is deleted, its
// refresh token refused.
func TestResourceEndToEnd(t *testing.T) {
	env := testEnv(map[string]string{"LATCHKEY_DATABASE": filepath.Join(t.TempDir(), "resource.db")})
	base, _, _ := serve(t, env)
	const mcp = "https://mcp.example.com/mcp"
	if id := mustCLI(t, env, "resource", "create", "--uri", "https://MCP.example.com/mcp/", "--name", "Tools server", "--scopes", "mcp:tools, mcp:resources"); id != "1" {
		t.Fatalf("resource create printed %q, want the id 1", id)
	}
	if list := mustCLI(t, env, "resource", "list"); !strings.Contains(list, mcp) || !strings.Contains(list, "Tools server") || !strings.Contains(list, "mcp:tools mcp:resources") {
		t.Errorf("resource list:\n%s", list)
	}
	var row struct {
		ID     int64    `json:"id"`
		URI    string   `json:"uri"`
		Scopes []string `json:"scopes"`
	}
	if err := json.Unmarshal([]byte(mustCLI(t, env, "resource", "list", "--json")), &row); err != nil || row.ID != 1 || row.URI != mcp || len(row.Scopes) != 2 {
		t.Errorf("resource list --json = %+v, %v", row, err)
	}

	const pw = "a password for the flow"
	if _, err := cli(t, env, pw+"\n", "user", "update", "--password-stdin", "admin"); err != nil {
		t.Fatal(err)
	}
	redirect := "http://127.0.0.1:9/callback"
	agent := strings.TrimSpace(mustCLI(t, env, "client", "create", "--name", "Agent", "--redirect-uri", redirect, "--public"))
	// A resource server's own credentials, to introspect with.
	rs := strings.Split(mustCLI(t, env, "client", "create", "--name", "Tools server", "--redirect-uri", "https://mcp.example.com/cb"), "\n")
	b := oauthtest.NewBrowser(t, base)
	token := func(scope, resource string) *oauth2.Token {
		t.Helper()
		conf := &oauth2.Config{ClientID: agent, RedirectURL: redirect, Scopes: []string{scope},
			Endpoint: oauth2.Endpoint{AuthURL: base + "/oauth/authorize", TokenURL: base + "/oauth/token"}}
		verifier := oauth2.GenerateVerifier()
		code := b.Authorize(conf, "admin", pw, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("resource", resource))
		tok, err := conf.Exchange(t.Context(), code, oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", resource))
		if err != nil {
			t.Fatalf("exchange for %s: %v", resource, err)
		}
		return tok
	}
	api := func(tok string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/1.0/users/1/tokens", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
	}

	// A token for the MCP server, asked for as clients may spell it.
	tok := token("mcp:tools", "HTTPS://MCP.example.com:443/mcp/")
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok.AccessToken, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil || claims["aud"] != mcp || claims["iss"] != base || claims["scope"] != "mcp:tools" || claims["client_id"] != agent {
		t.Errorf("the token's claims = %s (%v); want aud %s, iss %s, scope mcp:tools, client_id %s", payload, err, mcp, base, agent)
	}
	if status, challenge := api(tok.AccessToken); status != http.StatusUnauthorized || !strings.Contains(challenge, `error="invalid_token"`) {
		t.Errorf("Latchkey's API with the token for %s: %d %q, want 401 invalid_token", mcp, status, challenge)
	}
	introspect := func(token string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+"/oauth/introspect", strings.NewReader(url.Values{"token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(rs[0], rs[1])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var in map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&in); err != nil {
			t.Fatalf("introspection: %d, %v", resp.StatusCode, err)
		}
		return in
	}
	if in := introspect(tok.AccessToken); in["active"] != true || in["aud"] != mcp || in["iss"] != base || in["scope"] != "mcp:tools" {
		t.Errorf("introspection = %v, want active, aud %s, iss %s", in, mcp, base)
	}

	// A token for the API's own resource: the API takes it.
	apiTok := token("tokens.read", base+"/api/1.0")
	if status, _ := api(apiTok.AccessToken); status != http.StatusOK {
		t.Errorf("Latchkey's API with a token for %s/api/1.0: %d, want 200", base, status)
	}

	// Deleted: its access token is revoked, which introspection says as
	// soon as the command returns, and its refresh token is refused,
	// invalid_target. The API's token is left.
	if _, said, err := cliErr(t, env, "resource", "delete", "https://mcp.example.com:443/mcp"); err != nil || !strings.Contains(said, "1 access token issued for it revoked") {
		t.Errorf("resource delete: %v, said %q; want it to say 1 token revoked", err, said)
	}
	if in := introspect(tok.AccessToken); in["active"] != false {
		t.Errorf("introspection of the deleted resource's token = %v, want inactive", in)
	}
	if in := introspect(apiTok.AccessToken); in["active"] != true {
		t.Errorf("introspection of the API's token after the delete = %v, want active", in)
	}
	if list := mustCLI(t, env, "resource", "list"); strings.Contains(list, mcp) {
		t.Errorf("resource list after delete:\n%s", list)
	}
	conf := &oauth2.Config{ClientID: agent, Endpoint: oauth2.Endpoint{TokenURL: base + "/oauth/token"}}
	var re *oauth2.RetrieveError
	if _, err := conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); !asRetrieveError(err, &re) || re.ErrorCode != "invalid_target" {
		t.Errorf("refresh for the deleted resource: %v, want invalid_target", err)
	}
}

func asRetrieveError(err error, target **oauth2.RetrieveError) bool {
	e, ok := err.(*oauth2.RetrieveError)
	if ok {
		*target = e
	}
	return ok
}

// TestResourceCommands: what the commands refuse, and how.
func TestResourceCommands(t *testing.T) {
	env := testEnv(map[string]string{"LATCHKEY_DATABASE": filepath.Join(t.TempDir(), "r.db")})
	mustCLI(t, env, "migrate")
	for _, tc := range []struct {
		args []string
		want string // in the message
		code int
	}{
		{[]string{"create", "--name", "x", "--scopes", "a"}, "required", 2},
		{[]string{"create", "--uri", "https://a.example/mcp#x", "--name", "x", "--scopes", "a"}, "fragment", 2},
		{[]string{"create", "--uri", "http://a.example/mcp", "--name", "x", "--scopes", "a"}, "https", 2},
		{[]string{"create", "--uri", "https://a.example/mcp", "--name", "x", "--scopes", "*"}, "scope", 2},
		{[]string{"create", "--uri", "https://a.example/mcp", "--name", "x", "--scopes", "a", "extra"}, "unexpected", 2},
		{[]string{"create", "--uri", "https://a.example/mcp", "--name", "x", "--scopes", "a,b", "--default-scopes", "a,c"}, `default scope "c" is not one of`, 2},
		{[]string{"create", "--uri", "https://a.example/mcp", "--name", "x", "--scopes", "a,b", "--default-scopes", " , "}, "names no scope", 2},
		{[]string{"delete"}, "want one", 2},
		{[]string{"delete", "7"}, "no resource 7", 1},
		{[]string{"delete", "https://unknown.example/mcp"}, "no resource", 1},
	} {
		out, errOut, err := cliErr(t, env, append([]string{"resource"}, tc.args...)...)
		if err == nil || exitCode(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("resource %q = %q, %q, %v (exit %d); want exit %d naming %q", tc.args, out, errOut, err, exitCode(err), tc.code, tc.want)
		}
	}
	mustCLI(t, env, "resource", "create", "--uri", "https://a.example/mcp", "--name", "A", "--scopes", "a b")
	if _, _, err := cliErr(t, env, "resource", "create", "--uri", "HTTPS://A.EXAMPLE/mcp/", "--name", "Again", "--scopes", "a"); err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "already registered") {
		t.Errorf("resource create of a registered URI in another spelling: %v, want it refused as registered", err)
	}
	mustCLI(t, env, "resource", "create", "--uri", "https://b.example/mcp", "--name", "B", "--scopes", "mcp:tools,mcp:resources,mcp:admin", "--default-scopes", "mcp:resources, mcp:tools")
	list := mustCLI(t, env, "resource", "list")
	if words := strings.Join(strings.Fields(list), " "); !strings.Contains(words, "SCOPES DEFAULT SCOPES CREATED") ||
		!strings.Contains(words, " a b a b ") || !strings.Contains(words, " mcp:tools mcp:resources mcp:admin mcp:resources mcp:tools ") {
		t.Errorf("resource list: want each resource's default scopes, all of a's, the two named of b's:\n%s", list)
	}
	var rows []struct {
		URI           string   `json:"uri"`
		DefaultScopes []string `json:"default_scopes"`
	}
	for _, line := range strings.Split(strings.TrimSpace(mustCLI(t, env, "resource", "list", "--json")), "\n") {
		var row struct {
			URI           string   `json:"uri"`
			DefaultScopes []string `json:"default_scopes"`
		}
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
	}
	if len(rows) != 2 || strings.Join(rows[0].DefaultScopes, " ") != "a b" || strings.Join(rows[1].DefaultScopes, " ") != "mcp:resources mcp:tools" {
		t.Errorf("resource list --json: default scopes %+v", rows)
	}
	audit := mustCLI(t, env, "audit")
	if !strings.Contains(audit, "resource.created") {
		t.Errorf("audit after resource create:\n%s", audit)
	}
}
