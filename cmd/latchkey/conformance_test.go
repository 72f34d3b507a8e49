package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/pgtest"
)

// conformanceDir is the black-box checker of the wire contract, which sits
// beside the repository in ../shared/conformance (LATCHKEY_CONFORMANCE_DIR
// names another place).
func conformanceDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("LATCHKEY_CONFORMANCE_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "conformance")
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the conformance checker is not at %s: %v", dir, err)
		}
		t.Skipf("the conformance checker is not at %s (set LATCHKEY_CONFORMANCE_DIR)", dir)
	}
	return dir
}

// TestConformance runs the contract's checker against "latchkey serve",
// on the embedded store and on PostgreSQL, with an administrator, a plain
// user, a view-users user and an edit-users user made at the command line.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("the conformance run takes about ten seconds")
	}
	dir := conformanceDir(t)
	bin := filepath.Join(t.TempDir(), "conformance")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the checker: %v\n%s", err, out)
	}
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		conform(t, bin, testEnv(map[string]string{"LATCHKEY_DATABASE": filepath.Join(t.TempDir(), "conformance.db")}), personalToken)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		conform(t, bin, testEnv(map[string]string{
			"LATCHKEY_DATABASE": pgtest.Schema(t, pgtest.DSN(t)),
			"LATCHKEY_SECRET":   "the conformance run's secret",
		}), personalToken)
	})
	// pm_api_auth_code: every role's token comes from the OAuth flow. A
	// token made with a token expires no later than it (lineage), and the
	// contract's tokens live a year by default: the access tokens here
	// live a year and a day.
	t.Run("oauth", func(t *testing.T) {
		t.Parallel()
		conform(t, bin, testEnv(map[string]string{
			"LATCHKEY_DATABASE":             filepath.Join(t.TempDir(), "conformance.db"),
			"LATCHKEY_OAUTH_TOKEN_LIFETIME": "8784h",
		}), oauthToken)
	})
}

// A minter gives the checker a token of the user named login, id id.
type minter func(t *testing.T, env func(string) string, base, login, id string) string

// personalToken is a personal token made at the command line.
func personalToken(t *testing.T, env func(string) string, _, login, id string) string {
	return mustCLI(t, env, "token", "create", "--user", id, "--name", "conformance "+login)
}

// conform runs the checker bin against a server on env's database, with
// tokens from mint.
func conform(t *testing.T, bin string, env func(string) string, mint minter) {
	base, stderr, _ := serve(t, env)
	ids := map[string]string{"admin": "1"}
	for _, u := range []struct{ name, grant string }{{"user", ""}, {"viewer", "view-users"}, {"editor", "edit-users"}} {
		args := []string{"user", "create", "--username", u.name, "--email", u.name + "@example.com"}
		if u.grant != "" {
			args = append(args, "--grant", u.grant)
		}
		ids[u.name] = mustCLI(t, env, args...)
	}
	cmd := exec.CommandContext(t.Context(), bin, "-base", base)
	cmd.Env = os.Environ()
	for role, id := range ids {
		tok := mint(t, env, base, role, id) // each user's name is its role
		cmd.Args = append(cmd.Args, "-"+role+"-id", id)
		cmd.Env = append(cmd.Env, "CONFORMANCE_"+strings.ToUpper(role)+"_TOKEN="+tok)
	}
	out, err := cmd.CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := lines[len(lines)-1]
	t.Logf("conformance: %s", last)
	if err != nil || !strings.Contains(last, " 0 failed, 0 skipped") {
		var bad []string
		for _, l := range lines {
			if !strings.HasPrefix(l, "ok ") {
				bad = append(bad, l)
			}
		}
		t.Fatalf("conformance: %v\n%s\nserver log:\n%s", err, strings.Join(bad, "\n"), stderr.String())
	}
}
