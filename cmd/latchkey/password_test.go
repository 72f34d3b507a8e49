package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/password"
)

// TestPasswordRuleCLI: user create and user update --password-stdin
// refuse a password the rule refuses, saying why, and keep what was set.
func TestPasswordRuleCLI(t *testing.T) {
	env := testEnv(map[string]string{"LATCHKEY_DATABASE": filepath.Join(t.TempDir(), "pw.db")})
	mustCLI(t, env, "migrate")
	_, err := cli(t, env, "a\n", "user", "create", "--username", "pat", "--email", "pat@example.com", "--password-stdin")
	if err == nil || !strings.Contains(err.Error(), password.MsgTooShort) {
		t.Fatalf("user create with password %q: %v, want a refusal saying %q", "a", err, password.MsgTooShort)
	}
	if list := mustCLI(t, env, "user", "list"); strings.Contains(list, "pat") {
		t.Fatalf("a refused user create stored the user:\n%s", list)
	}
	if _, err := cli(t, env, "choose a good passphrase\n", "user", "create", "--username", "pat", "--email", "pat@example.com", "--password-stdin"); err != nil {
		t.Fatalf("user create with a good passphrase: %v", err)
	}
	for pw, why := range map[string]string{"short\n": password.MsgTooShort, "1qaz2wsx3edc4rfv\n": password.MsgCommon} {
		if _, err := cli(t, env, pw, "user", "update", "--password-stdin", "pat"); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("user update --password-stdin with %q: %v, want a refusal saying %q", strings.TrimSpace(pw), err, why)
		}
	}
}
