package main

import (
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestTokenRevokeTwice: revoking a revoked token at the command line says
// so, and records nothing more in the audit log.
func TestTokenRevokeTwice(t *testing.T) {
	env := testEnv(map[string]string{"LATCHKEY_DATABASE": filepath.Join(t.TempDir(), "r.db")})
	mustCLI(t, env, "migrate")
	mustCLI(t, env, "user", "create", "--username", "u", "--email", "u@example.com")
	jwt := strings.TrimSpace(mustCLI(t, env, "token", "create", "--user", "u", "--name", "n"))
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("token create printed %q, want a JWT", jwt)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct{ Jti string }
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}

	_, errOut, err := cliErr(t, env, "token", "revoke", claims.Jti)
	if err != nil || !strings.Contains(errOut, "token "+claims.Jti+" revoked") {
		t.Fatalf("token revoke: %v, %q; want it revoked", err, errOut)
	}
	_, errOut, err = cliErr(t, env, "token", "revoke", claims.Jti)
	if err != nil || !strings.Contains(errOut, "token "+claims.Jti+" was already revoked") {
		t.Errorf("token revoke again: %v, %q; want it to say the token was already revoked", err, errOut)
	}
	records := strings.Split(strings.TrimSpace(mustCLI(t, env, "audit", "--action", "token.revoked", "--json")), "\n")
	if len(records) != 1 || !strings.Contains(records[0], claims.Jti) {
		t.Errorf("after two revokes, the audit log's token.revoked records are:\n%s\nwant one", strings.Join(records, "\n"))
	}
}
