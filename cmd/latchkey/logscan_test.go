package main

import (
	"bytes"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/client"
)

// TestLogsHoldNoSecrets runs the server with debug logging through a full
// round of operator and API work, then searches every line it and the
// command line wrote for every secret issued or sent: tokens (whole and by
// signature), the server secret, a password, forged credentials.
func TestLogsHoldNoSecrets(t *testing.T) {
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
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// The audit log saw it all, with the client's address and user agent,
	// and it too must hold no secret.
	auditOut := cmd("", "audit", "--json", "--limit", "0")
	for _, want := range []string{`"action":"token.created"`, `"action":"token.revoked"`, `"action":"auth.refused"`,
		`"action":"user.created"`, `"action":"key.added"`, `"detail":"revoked"`, `"address":"127.0.0.1"`, `"user_agent":"latchkey-go-client"`} {
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
		if i := strings.LastIndex(s, "."); i > 0 && strings.Count(s, ".") == 2 {
			needles = append(needles, s[i+1:]) // the signature alone
		}
		for _, n := range needles {
			if strings.Contains(logs, n) {
				t.Errorf("a secret (%.12s…) is in the logs", n)
			}
		}
	}
}
