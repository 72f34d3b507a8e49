package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/oauthtest"
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
}
