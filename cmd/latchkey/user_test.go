package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestUserRestore: a deleted user's username and email are free for a
// new user; "user list --deleted" shows the deleted users; "user restore"
// brings one back without its tokens, and refuses, naming what is taken
// and by whom, while a live user has its username or email.
func TestUserRestore(t *testing.T) {
	env := testEnv(map[string]string{"LATCHKEY_DATABASE": filepath.Join(t.TempDir(), "r.db")})
	mustCLI(t, env, "migrate")
	alice := mustCLI(t, env, "user", "create", "--username", "alice", "--email", "alice@example.com")
	bob := mustCLI(t, env, "user", "create", "--username", "bob", "--email", "bob@example.com")
	mustCLI(t, env, "token", "create", "--user", "bob", "--name", "before")
	mustCLI(t, env, "user", "delete", "bob")

	list := mustCLI(t, env, "user", "list", "--deleted")
	if !strings.Contains(list, "bob@example.com") || strings.Contains(list, "alice") {
		t.Errorf("user list --deleted, with bob deleted and alice not:\n%s", list)
	}

	// bob's username and email are free: a new bob takes them.
	newBob := mustCLI(t, env, "user", "create", "--username", "bob", "--email", "bob@example.com")
	if newBob == bob {
		t.Fatalf("the new bob has the deleted bob's id %s", bob)
	}
	_, err := cli(t, env, "", "user", "restore", "bob")
	want := fmt.Sprintf(`user %s cannot be restored: its username "bob" has been taken by user %s meanwhile`, bob, newBob)
	if err == nil || err.Error() != want || exitCode(err) != 1 {
		t.Errorf("user restore bob while another bob is live: %v (exit %d), want exit 1 and %q", err, exitCode(err), want)
	}

	// With both bobs deleted, the name is ambiguous: the id decides.
	mustCLI(t, env, "user", "delete", "bob")
	if _, err := cli(t, env, "", "user", "restore", "bob"); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("(ids %s, %s)", bob, newBob)) || exitCode(err) != 1 {
		t.Errorf("user restore bob with two deleted bobs: %v (exit %d), want exit 1 naming both ids", err, exitCode(err))
	}
	mustCLI(t, env, "user", "restore", bob)

	list = mustCLI(t, env, "user", "list")
	if !strings.Contains(list, "bob@example.com") || strings.Contains(list, "DELETED") {
		t.Errorf("user list after bob was restored:\n%s", list)
	}
	if list := mustCLI(t, env, "user", "list", "--deleted"); !strings.Contains(list, newBob+" ") || strings.Contains(list, "\n"+bob+" ") {
		t.Errorf("user list --deleted after bob %s was restored, with bob %s still deleted:\n%s", bob, newBob, list)
	}
	// The token of before the deletion stays revoked.
	if tokens := mustCLI(t, env, "token", "list", "--user", bob); strings.Contains(tokens, "before") {
		t.Errorf("token list of the restored bob shows the token of before the deletion:\n%s", tokens)
	}
	if audit := mustCLI(t, env, "audit", "--action", "user.restored"); !strings.Contains(audit, "user.restored") {
		t.Errorf("audit --action user.restored:\n%s", audit)
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
		says string
	}{
		{"a live user", []string{"user", "restore", "alice"}, 1, `no deleted user "alice"`},
		{"a live user by id", []string{"user", "restore", alice}, 1, "user " + alice + " is not deleted"},
		{"nobody", []string{"user", "restore", "nobody"}, 1, `no deleted user "nobody"`},
		{"no user", []string{"user", "restore"}, 2, "want exactly one USER"},
		{"two users", []string{"user", "restore", "a", "b"}, 2, "want exactly one USER"},
		{"list --all --deleted", []string{"user", "list", "--all", "--deleted"}, 2, "exclude each other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cli(t, env, "", tc.args...)
			if err == nil || exitCode(err) != tc.code || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("latchkey %v: %v (exit %d), want exit %d saying %q", tc.args, err, exitCode(err), tc.code, tc.says)
			}
		})
	}
}
