package main

import (
	"bytes"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/client"
	"github.com/latchkey/latchkey/internal/oauthtest"
)

// TestLogsHoldNoSecrets runs the server with debug logging through a full
// round of operator and API work, then searches every line it and the
// command line wrote for every secret issued or sent: tokens (whole and by
// signature), the server secret, a password, forged credentials.
func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	const serverSecret = "log-scan server secret, distinctive 8e1f"
	const password = "log-scan password, distinctive 77ab"
	env := testEnv(map[string]string{
		"LATCHKEY_DATABASE":   filepath.Join(t.TempDir(), "logscan.db"),
		"LATCHKEY_SECRET":     serverSecret,
		"LATCHKEY_LOG_LEVEL":  "debug",
		"LATCHKEY_LOG_FORMAT": "json",
	})
	base, serverLog, stop := serve(t, env)
	var cliLog bytes.Buffer
	cmd := func(stdin string, args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(t.Context(), args, env, strings.NewReader(stdin), &out, &cliLog); err != nil {
			t.Fatalf("latchkey %v: %v", args, err)
		}
		return strings.TrimSpace(out.String())
	}
	secrets := []string{serverSecret, password}

	cmd(password+"\n", "user", "create", "--username", "scan", "--email", "scan@example.com", "--password-stdin")
	admin := cmd("", "token", "create", "--user", "admin", "--name", "scan admin")
	user := cmd("", "token", "create", "--user", "scan", "--name", "scan user", "--scopes", "tokens.read")
	secrets = append(secrets, admin, user)
	cmd("", "keys", "rotate")

	c, _ := client.New(base, client.WithBearerToken(admin))
	ctx := t.Context()
	for range 3 {
		made, err := c.CreateToken(ctx, 1, client.CreateTokenRequest{Name: "scan"})
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, made.AccessToken)
		if _, err := c.Token(ctx, 1, made.Token.ID); err != nil {
			t.Fatal(err)
		}
		if err := c.DeleteToken(ctx, 1, made.Token.ID); err != nil {
			t.Fatal(err)
		}
		// The revoked token, tried again: a refusal is logged, its token not.
		revoked, _ := client.New(base, client.WithBearerToken(made.AccessToken))
		_, _ = revoked.Tokens(ctx, 1, client.ListOptions{})
	}
	u, _ := client.New(base, client.WithAPIKey(user, ""))
	_, _ = u.Tokens(ctx, 2, client.ListOptions{})
	_, _ = u.CreateToken(ctx, 2, client.CreateTokenRequest{Name: "refused: read-only token"})
	forged := admin[:strings.LastIndex(admin, ".")+1] + "Zm9yZ2VkLXNpZ25hdHVyZS1sb2ctc2Nhbg"
	secrets = append(secrets, forged, "Bearer garbage-credential-log-scan-31c9")
	for _, h := range []string{"Bearer " + forged, "Bearer garbage-credential-log-scan-31c9"} {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/1.0/users/1/tokens?access_token="+admin, nil)
		req.Header.Set("Authorization", h)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
	}
	secrets = append(secrets, oauthRound(t, base, cmd, password)...)
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// The audit log saw it all, with the client's address and user agent,
	// and it too must hold no secret.
	auditOut := cmd("", "audit", "--json", "--limit", "0")
	for _, want := range []string{`"action":"token.created"`, `"action":"token.revoked"`, `"action":"auth.refused"`,
		`"action":"user.created"`, `"action":"key.added"`, `"detail":"revoked"`, `"address":"127.0.0.1"`, `"user_agent":"latchkey-go-client"`,
		`"action":"signin.succeeded"`, `"action":"signin.failed"`, `"action":"client.registered"`} {
		if !strings.Contains(auditOut, want) {
			t.Errorf("the audit log lacks %s:\n%s", want, auditOut)
		}
	}
	if table := cmd("", "audit", "--action", "token.revoked", "--user", "admin"); strings.Count(table, "token.revoked") != 3 {
		t.Errorf("audit --action token.revoked --user admin:\n%s\nwant the 3 revocations", table)
	}
	logs := serverLog.String() + cliLog.String() + auditOut
	if !strings.Contains(logs, `"msg":"request"`) || !strings.Contains(logs, "token created") {
		t.Fatalf("the logs do not look captured:\n%.2000s", logs)
	}
	for _, s := range secrets {
		needles := []string{s}
		if i := strings.LastIndex(s, "."); i > 0 && len(s)-i > 16 {
			// The signature alone: of a JWT, or of a code or refresh
			// token (what the database keeps a hash of).
			needles = append(needles, s[i+1:])
		}
		for _, n := range needles {
			if strings.Contains(logs, n) {
				t.Errorf("a secret (%.12s…) is in the logs", n)
			}
		}
	}
}

// oauthRound runs the OAuth flow as user "scan" (whose password is pw):
// a failed sign-in, a sign-in, consent, a code exchanged, a refresh, an
// introspection and a revocation. It returns every secret it saw: the
// client secret, the wrong password, the session cookie, the code, and
// each access and refresh token.
func oauthRound(t *testing.T, base string, cmd func(string, ...string) string, pw string) []string {
	t.Helper()
	ctx := t.Context()
	lines := strings.Split(cmd("", "client", "create", "--name", "Scanner", "--redirect-uri", "http://127.0.0.1:9/callback"), "\n")
	id, secret := lines[0], lines[1]
	const wrong = "log-scan wrong password, distinctive 5d2c"
	secrets := []string{secret, wrong}

	b := oauthtest.NewBrowser(t, base)
	if p := b.SignIn("scan", wrong, b.Get(base+"/login")); p.Status != http.StatusUnauthorized {
		t.Fatalf("sign-in with a wrong password: %d", p.Status)
	}
	conf := &oauth2.Config{
		ClientID: id, ClientSecret: secret, RedirectURL: "http://127.0.0.1:9/callback", Scopes: []string{"tokens.read"},
		Endpoint: oauth2.Endpoint{AuthURL: base + "/oauth/authorize", TokenURL: base + "/oauth/token"},
	}
	verifier := oauth2.GenerateVerifier()
	code := b.Authorize(conf, "scan", pw, oauth2.S256ChallengeOption(verifier))
	secrets = append(secrets, code, verifier)
	u, _ := url.Parse(base)
	for _, c := range b.Client.Jar.Cookies(u) {
		secrets = append(secrets, c.Value)
	}
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	tok2, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, tok.AccessToken, tok.RefreshToken, tok2.AccessToken, tok2.RefreshToken)
	// The used refresh token again (reuse), then introspect and revoke.
	_, _ = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	for _, ep := range []string{"/oauth/introspect", "/oauth/revoke"} {
		req, _ := http.NewRequestWithContext(ctx, "POST", base+ep, strings.NewReader(url.Values{"token": {tok2.AccessToken}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(id, secret)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
	}
	return secrets
}
